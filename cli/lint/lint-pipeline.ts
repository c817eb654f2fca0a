// `imageflow lint` for one pipeline: the compiler's semantic checks, compilation with fusion on
// and off, and schema validation of the WorkflowTemplate and a submitted Workflow.
import { checkPipeline, compile, Pipeline, PipelineError, toWorkflow } from '../../constructs/pipeline/index.js';
import { assertSupported } from '../runner/supported-fields.js';
import { validateArgoObject } from './argo-schema.js';

export interface LintFinding {
  readonly pipeline: string;
  readonly check: 'checks' | 'compile' | 'schema' | 'local-runner';
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export async function lintPipeline(pipeline: Pipeline): Promise<{ findings: LintFinding[]; schemaChecks: string[] }> {
  const name = pipeline.name;
  const findings: LintFinding[] = [];
  const add = (check: LintFinding['check'], message: string, severity: LintFinding['severity'] = 'error') =>
    findings.push({ pipeline: name, check, severity, message });
  for (const e of checkPipeline(pipeline.toJSON())) add('checks', e.message);
  let schemaChecks: string[] = [];
  for (const fusion of [true, false]) {
    let template;
    try {
      template = compile(pipeline, { fusion });
    } catch (e) {
      add('compile', `fusion ${fusion ? 'on' : 'off'}: ${(e as Error).message}`);
      continue;
    }
    const objects = [template, toWorkflow(pipeline, { fusion }), toWorkflow(pipeline, { fusion, inline: true })];
    for (const o of objects) {
      const { problems, checks } = await validateArgoObject(o);
      schemaChecks = checks;
      for (const p of problems) add('schema', `${o.kind} (fusion ${fusion ? 'on' : 'off'}): ${p}`);
    }
    try {
      assertSupported(template);
    } catch (e) {
      add('local-runner', `fusion ${fusion ? 'on' : 'off'}: \`imageflow run\` cannot run it: ${(e as Error).message}`, 'warning');
    }
  }
  return { findings, schemaChecks };
}

/** Findings for a document that failed to load at all. */
export function loadFinding(ref: string, err: unknown): LintFinding {
  return { pipeline: ref, check: 'checks', severity: 'error', message: err instanceof PipelineError ? err.message : (err as Error).message };
}
