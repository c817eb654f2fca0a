// Argo objects that run a compiled template: a one-off Workflow (by reference or inline) and a
// CronWorkflow, with parameter values checked against the template's arguments.
import type { CronWorkflow, Parameter, Workflow, WorkflowTemplate } from './argo-types.js';
import { API_VERSION, PIPELINE_LABEL } from './compile.js';
import { PipelineError } from './errors.js';

export interface SubmitOptions {
  /** Parameter values; others take their defaults. */
  readonly parameters?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
  /** Embed the whole template instead of referencing the WorkflowTemplate by name. */
  readonly inline?: boolean;
}

function argumentValues(template: WorkflowTemplate, parameters: SubmitOptions['parameters'] = {}): Parameter[] {
  const declared = new Set((template.spec.arguments?.parameters ?? []).map((p) => p.name));
  return Object.entries(parameters).map(([name, value]) => {
    if (!declared.has(name))
      throw new PipelineError(template.metadata.name!, undefined, `parameters.${name}`, `is not a parameter of this pipeline; declared: ${[...declared].join(', ') || 'none'}`);
    return { name, value: typeof value === 'string' ? value : JSON.stringify(value) };
  });
}

/** A one-off Workflow running the template (by reference, or inline). */
export function workflowFor(template: WorkflowTemplate, options: SubmitOptions = {}): Workflow {
  const args = argumentValues(template, options.parameters);
  const { name, namespace, labels } = template.metadata;
  const spec: Workflow['spec'] = options.inline
    ? structuredClone(template.spec)
    : { workflowTemplateRef: { name: name! } };
  if (args.length) {
    const defaults = (options.inline ? template.spec.arguments?.parameters : []) ?? [];
    const merged = defaults.map((d) => args.find((a) => a.name === d.name) ?? d);
    spec.arguments = { parameters: options.inline ? merged : args };
  }
  return {
    apiVersion: API_VERSION,
    kind: 'Workflow',
    metadata: { generateName: `${name}-`, namespace, labels: { [PIPELINE_LABEL]: labels?.[PIPELINE_LABEL] ?? name! } },
    spec,
  };
}

export interface ScheduleOptions extends SubmitOptions {
  /** Cron schedules, e.g. ["0 3 * * *"]. */
  readonly schedules: readonly string[];
  readonly timezone?: string;
  /** @default 'Forbid' (never overlap runs, protecting the gateway) */
  readonly concurrencyPolicy?: 'Allow' | 'Forbid' | 'Replace';
}

/** A CronWorkflow running the template on a schedule. */
export function cronWorkflowFor(template: WorkflowTemplate, options: ScheduleOptions): CronWorkflow {
  if (!options.schedules.length)
    throw new PipelineError(template.metadata.name!, undefined, 'schedules', 'needs at least one cron schedule, e.g. "0 3 * * *"');
  const workflow = workflowFor(template, options);
  const spec: CronWorkflow['spec'] = {
    schedules: [...options.schedules],
    concurrencyPolicy: options.concurrencyPolicy ?? 'Forbid',
    workflowMetadata: { labels: workflow.metadata.labels },
    workflowSpec: workflow.spec,
  };
  if (options.timezone) spec.timezone = options.timezone;
  return {
    apiVersion: API_VERSION,
    kind: 'CronWorkflow',
    metadata: { name: template.metadata.name, namespace: template.metadata.namespace, labels: workflow.metadata.labels },
    spec,
  };
}
