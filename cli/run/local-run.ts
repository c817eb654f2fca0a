// `imageflow run` without the command-line parsing: inputs → parameters, compile, execute the
// compiled WorkflowTemplate with the local executor, download outputs. Tests call this directly.
import type { Pipeline } from '../../constructs/pipeline/index.js';
import { runWorkflow, type NodeStatus, type WorkflowRun } from '../runner/executor.js';
import type { WorkflowTemplateObject } from '../runner/types.js';
import { usageError } from '../exit-codes.js';
import type { StackConnection } from '../stack-connection.js';
import { uploadInputs } from './inputs.js';
import { downloadOutputs, imageRefs, writeSummary } from './outputs.js';

export interface LocalRunOptions {
  readonly pipeline: Pipeline;
  readonly connection: StackConnection;
  /** Files to upload (already expanded). */
  readonly inputFiles?: readonly string[];
  /** Which parameter receives the inputs. @default the first objectKeys parameter, else the first objectKey one */
  readonly inputParam?: string;
  readonly parameters?: Readonly<Record<string, string>>;
  /** Override the pipeline's fusion switch. */
  readonly fusion?: boolean;
  readonly outDir?: string;
  readonly secrets?: Readonly<Record<string, string>>;
  readonly semaphores?: Readonly<Record<string, number>>;
  readonly onNode?: (node: NodeStatus, run: { readonly name: string }) => void;
}

export interface LocalRunResult {
  readonly template: WorkflowTemplateObject;
  /** One run per input for single-image pipelines, else one. */
  readonly runs: readonly WorkflowRun[];
  readonly downloaded: readonly string[];
}

/** The parameter inputs go to, and whether it takes a list. */
export function inputTarget(pipeline: Pipeline, wanted?: string): { name: string; list: boolean } | undefined {
  const params = pipeline.toJSON().params ?? {};
  if (wanted) {
    const decl = params[wanted];
    if (!decl) throw usageError(`--input-param ${wanted}: ${pipeline.name} has no such parameter (${Object.keys(params).join(', ')})`);
    if (decl.type !== 'objectKey' && decl.type !== 'objectKeys') throw usageError(`--input-param ${wanted}: it is a ${decl.type} parameter, not an object key`);
    return { name: wanted, list: decl.type === 'objectKeys' };
  }
  const list = Object.entries(params).find(([, d]) => d.type === 'objectKeys');
  if (list) return { name: list[0], list: true };
  const single = Object.entries(params).find(([, d]) => d.type === 'objectKey');
  return single ? { name: single[0], list: false } : undefined;
}

export async function runLocally(options: LocalRunOptions): Promise<LocalRunResult> {
  const { pipeline, connection } = options;
  const template = pipeline.compile({ gatewayUrl: connection.gatewayUrl, fusion: options.fusion }) as unknown as WorkflowTemplateObject;
  const base = { ...options.parameters };
  const parameterSets: Record<string, string>[] = [];
  const files = options.inputFiles ?? [];
  if (files.length) {
    const target = inputTarget(pipeline, options.inputParam);
    if (!target) throw usageError(`${pipeline.name} takes no image parameter; drop --input`);
    if (target.name in base) throw usageError(`-p ${target.name} and --input both set ${target.name}; use one`);
    const keys = await uploadInputs(connection.storage, connection.bucket, files);
    if (target.list) parameterSets.push({ ...base, [target.name]: JSON.stringify(keys) });
    else for (const key of keys) parameterSets.push({ ...base, [target.name]: key });
  } else parameterSets.push(base);

  const runs: WorkflowRun[] = [];
  const downloaded: string[] = [];
  for (const parameters of parameterSets) {
    const run = await runWorkflow(template, { parameters, secrets: options.secrets, semaphores: options.semaphores, onNode: options.onNode });
    runs.push(run);
    if (options.outDir) {
      const refs = imageRefs(run.outputs, connection.bucket);
      downloaded.push(...(await downloadOutputs(connection.storage, refs, `${options.outDir}/${run.name}`)));
      downloaded.push(
        writeSummary(`${options.outDir}/${run.name}`, 'run', {
          workflow: run.name,
          pipeline: pipeline.name,
          phase: run.phase,
          message: run.message,
          parameters,
          outputs: Object.fromEntries(Object.entries(run.outputs).map(([k, v]) => [k, parseMaybe(v)])),
          nodes: run.nodes.map((n) => ({ name: n.name, phase: n.phase, attempts: n.attempts, message: n.message, durationMs: duration(n) })),
        }),
      );
    }
  }
  return { template, runs, downloaded };
}

const duration = (n: NodeStatus) => (n.startedAt !== undefined && n.finishedAt !== undefined ? n.finishedAt - n.startedAt : undefined);

function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
