// What the local runner understands of a WorkflowTemplate, field by field. Everything else is
// refused up front with the path of the field, so a template that would behave differently in
// Argo never runs locally as if all were well.
import { UnsupportedError } from './errors.js';

/** Fields that only matter to a cluster (pods, garbage collection); accepted and not acted on. */
export const CLUSTER_ONLY_FIELDS = ['serviceAccountName', 'ttlStrategy', 'podGC', 'workflowMetadata'] as const;

type Shape = { readonly [key: string]: Shape | 'leaf' | readonly ['list', Shape | 'leaf'] };

const parameter: Shape = { name: 'leaf', value: 'leaf', description: 'leaf', enum: 'leaf', globalName: 'leaf', default: 'leaf', valueFrom: { parameter: 'leaf', default: 'leaf' } };
const parameters: Shape = { parameters: ['list', parameter] };

const dagTask: Shape = {
  name: 'leaf',
  template: 'leaf',
  arguments: parameters,
  dependencies: 'leaf',
  when: 'leaf',
  withParam: 'leaf',
  withItems: 'leaf',
  continueOn: { failed: 'leaf', error: 'leaf' },
};

const template: Shape = {
  name: 'leaf',
  inputs: parameters,
  outputs: parameters,
  dag: { tasks: ['list', dagTask], failFast: 'leaf' },
  http: {
    url: 'leaf',
    method: 'leaf',
    headers: ['list', { name: 'leaf', value: 'leaf', valueFrom: { secretKeyRef: { name: 'leaf', key: 'leaf' } } }],
    body: 'leaf',
    timeoutSeconds: 'leaf',
    successCondition: 'leaf',
  },
  retryStrategy: {
    limit: 'leaf',
    retryPolicy: 'leaf',
    expression: 'leaf',
    backoff: { duration: 'leaf', factor: 'leaf', maxDuration: 'leaf', cap: 'leaf' },
  },
  synchronization: { semaphores: ['list', { configMapKeyRef: { name: 'leaf', key: 'leaf' } }] },
};

const spec: Shape = {
  entrypoint: 'leaf',
  arguments: parameters,
  templates: ['list', template],
  parallelism: 'leaf',
  onExit: 'leaf',
  ...Object.fromEntries(CLUSTER_ONLY_FIELDS.map((f) => [f, 'leaf'])),
};

const manifest: Shape = { apiVersion: 'leaf', kind: 'leaf', metadata: 'leaf', spec };

function walk(value: unknown, shape: Shape, path: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new UnsupportedError(path, `expected an object, got ${JSON.stringify(value)}`);
  for (const [key, child] of Object.entries(value)) {
    const expected = shape[key];
    const at = path ? `${path}.${key}` : key;
    if (expected === undefined)
      throw new UnsupportedError(at, `the local runner does not support "${key}" here; run it in a cluster with \`imageflow submit\`, or remove it`);
    if (expected === 'leaf') continue;
    if (Array.isArray(expected)) {
      if (!Array.isArray(child)) throw new UnsupportedError(at, 'expected a list');
      const item = expected[1];
      if (item !== 'leaf') child.forEach((c, i) => walk(c, item, `${at}[${i}]`));
    } else walk(child, expected as Shape, at);
  }
}

/** Throws an UnsupportedError naming the first field the runner cannot honour. */
export function assertSupported(workflowTemplate: unknown): void {
  walk(workflowTemplate, manifest, '');
  const s = (workflowTemplate as { spec: { templates: { name: string; http?: unknown; dag?: unknown; retryStrategy?: { retryPolicy?: string } }[] } }).spec;
  s.templates.forEach((t, i) => {
    if (!t.http && !t.dag) throw new UnsupportedError(`spec.templates[${i}]`, `template "${t.name}" is neither http nor dag; the local runner runs only those`);
    const policy = t.retryStrategy?.retryPolicy;
    if (policy !== undefined && !['Always', 'OnFailure', 'OnError'].includes(policy))
      throw new UnsupportedError(`spec.templates[${i}].retryStrategy.retryPolicy`, `"${policy}" is not supported locally (Always, OnFailure, OnError)`);
  });
}
