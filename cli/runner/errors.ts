// Errors of the local runner. An UnsupportedError names the template field it could not honour:
// the runner refuses rather than guess what Argo would have done.
export class UnsupportedError extends Error {
  constructor(
    /** Where in the WorkflowTemplate, e.g. `spec.templates[2].dag.tasks[1].when`. */
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
    this.name = 'UnsupportedError';
  }
}
