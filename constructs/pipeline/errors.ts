// One error type for everything the DSL, the document reader and the compiler refuse, so that a
// message always says which pipeline, which step and which field, and what to change.
export class PipelineError extends Error {
  constructor(
    readonly pipeline: string,
    readonly step: string | undefined,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(`${where(pipeline, step, field)}: ${detail}`);
    this.name = 'PipelineError';
  }
}

export function where(pipeline: string, step?: string, field?: string): string {
  return [`pipeline "${pipeline}"`, step && `step "${step}"`, field && `field "${field}"`]
    .filter(Boolean)
    .join(', ');
}
