// The pipeline document: the plain-data form of a pipeline. The typed DSL builds one, a backend
// or UI can submit one as JSON, and the compiler reads only this. Validated with zod; its JSON
// Schema is exported for other tools.
import { z } from 'zod';

/** A reference to a pipeline parameter, e.g. `{"$param": "image"}`. */
export const ParamValue = z.strictObject({ $param: z.string().min(1) });
/** The image a step produced, e.g. `{"$step": "resize"}`. */
export const StepValue = z.strictObject({ $step: z.string().min(1) });
/** The current image of a forEach loop. */
export const ItemValue = z.strictObject({ $item: z.literal(true) });
export type ParamValue = z.infer<typeof ParamValue>;
export type StepValue = z.infer<typeof StepValue>;
export type ItemValue = z.infer<typeof ItemValue>;
export type RefValue = ParamValue | StepValue | ItemValue;

export const PARAM_TYPES = ['objectKey', 'string', 'number', 'boolean', 'enum', 'objectKeys'] as const;
export const ParamType = z.enum(PARAM_TYPES);
export type ParamType = z.infer<typeof ParamType>;

export const ParamDecl = z.strictObject({
  type: ParamType,
  description: z.string().optional(),
  default: z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]).optional(),
  /** The allowed values of an enum parameter. */
  values: z.array(z.string().min(1)).min(1).optional(),
});
export type ParamDecl = z.infer<typeof ParamDecl>;

export const CompareOp = z.enum(['==', '!=', '>', '>=', '<', '<=']);
export type CompareOp = z.infer<typeof CompareOp>;

export type Condition =
  | {
      /** Count the detections of a detect step (optionally of some labels, above a confidence). */
      detections: string;
      labels?: string[];
      minConfidence?: number;
      op: CompareOp;
      count: number;
    }
  | { param: string; op: CompareOp; value: string | number | boolean }
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition };

export const Condition: z.ZodType<Condition> = z.lazy(() =>
  z.union([
    z.strictObject({
      detections: z.string().min(1),
      labels: z.array(z.string().min(1)).min(1).optional(),
      minConfidence: z.number().min(0).max(1).optional(),
      op: CompareOp,
      count: z.int().min(0),
    }),
    z.strictObject({ param: z.string().min(1), op: CompareOp, value: z.union([z.string(), z.number(), z.boolean()]) }),
    z.strictObject({ and: z.array(Condition).min(2) }),
    z.strictObject({ or: z.array(Condition).min(2) }),
    z.strictObject({ not: Condition }),
  ]),
);

export const Backoff = z.strictObject({
  /** Go duration, e.g. "2s". */
  duration: z.string().regex(/^\d+(ms|s|m|h)$/, 'duration must look like "500ms", "2s", "1m" or "1h"'),
  factor: z.int().min(1).optional(),
  maxDuration: z.string().regex(/^\d+(ms|s|m|h)$/, 'maxDuration must look like "30s", "5m" or "1h"').optional(),
});
export const Retry = z.strictObject({ limit: z.int().min(0).max(20), backoff: Backoff.optional() });
export type Retry = z.infer<typeof Retry>;

export const ContinueOn = z.strictObject({ failed: z.boolean().optional(), error: z.boolean().optional() });
export type ContinueOn = z.infer<typeof ContinueOn>;

/** How a step runs, independent of what it does. */
const runShape = {
  dependsOn: z.array(z.string().min(1)).optional(),
  when: Condition.optional(),
  /** `false` turns retries off for this step. Default: the pipeline's retry. */
  retry: z.union([Retry, z.literal(false)]).optional(),
  timeoutSeconds: z.int().min(1).max(3600).optional(),
  continueOn: ContinueOn.optional(),
};

/** Options of an image step as the gateway names them; values may be `$param`/`$step`/`$item` refs. */
const OpParams = z.record(z.string(), z.unknown());

export const ImageStepDoc = z.strictObject({
  id: z.string(),
  op: z.enum(['resize', 'filter', 'detect']),
  params: OpParams,
  ...runShape,
});
export type ImageStepDoc = z.infer<typeof ImageStepDoc>;

export const HttpMethod = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
export const HttpStepDoc = z.strictObject({
  id: z.string(),
  op: z.literal('http'),
  params: z.strictObject({
    /** Absolute URL, or a path such as "/v1/other" relative to the gateway. */
    url: z.string().min(1),
    method: HttpMethod.optional(),
    body: z.unknown().optional(),
  }),
  ...runShape,
});
export type HttpStepDoc = z.infer<typeof HttpStepDoc>;

export const ForEachDoc = z.strictObject({
  id: z.string(),
  op: z.literal('forEach'),
  /** A parameter of type objectKeys: one branch per key. */
  over: ParamValue,
  steps: z.array(z.union([ImageStepDoc, HttpStepDoc])).min(1),
  /** The step whose result each branch returns; the results are gathered into a JSON array. */
  gather: z.string().min(1),
  dependsOn: z.array(z.string().min(1)).optional(),
  continueOn: ContinueOn.optional(),
});
export type ForEachDoc = z.infer<typeof ForEachDoc>;

export const StepDoc = z.discriminatedUnion('op', [ImageStepDoc, HttpStepDoc, ForEachDoc]);
export type StepDoc = ImageStepDoc | HttpStepDoc | ForEachDoc;
export type LeafStepDoc = ImageStepDoc | HttpStepDoc;

export const ExitHandler = z.strictObject({
  /** Absolute URL, a gateway path ("/v1/…"), or a string parameter holding an absolute URL. */
  url: z.union([z.string().min(1), ParamValue]),
  /** Extra JSON fields; `workflow` (name) and `status` are always sent. */
  body: z.record(z.string(), z.unknown()).optional(),
});

export const PipelineOptions = z.strictObject({
  /** Fuse runs of consecutive image steps into one /v1/pipeline call. Default: true. */
  fusion: z.boolean().optional(),
  /** Stop scheduling new tasks after the first failure. Default: true (Argo's default). */
  failFast: z.boolean().optional(),
  /** At most this many tasks of one workflow at once. */
  parallelism: z.int().min(1).optional(),
  /** A ConfigMap key holding how many gateway calls may run at once across all workflows. */
  semaphore: z.strictObject({ configMap: z.string().min(1), key: z.string().min(1) }).optional(),
  retry: z.union([Retry, z.literal(false)]).optional(),
  timeoutSeconds: z.int().min(1).max(3600).optional(),
  onExit: ExitHandler.optional(),
  ttl: z
    .strictObject({
      secondsAfterCompletion: z.int().min(0).optional(),
      secondsAfterSuccess: z.int().min(0).optional(),
      secondsAfterFailure: z.int().min(0).optional(),
    })
    .optional(),
  podGC: z.enum(['OnPodCompletion', 'OnPodSuccess', 'OnWorkflowCompletion', 'OnWorkflowSuccess']).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  serviceAccountName: z.string().min(1).optional(),
});
export type PipelineOptions = z.infer<typeof PipelineOptions>;

export const PipelineDocument = z.strictObject({
  name: z.string(),
  description: z.string().optional(),
  params: z.record(z.string(), ParamDecl).optional(),
  steps: z.array(StepDoc).min(1, 'steps needs at least one step'),
  /** Workflow outputs: output name → step id whose result is exposed. */
  outputs: z.record(z.string(), z.string()).optional(),
  options: PipelineOptions.optional(),
});
export type PipelineDocument = z.infer<typeof PipelineDocument>;

/** The JSON Schema (draft 2020-12) of a pipeline document, for UIs and backends. */
export function pipelineDocumentJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PipelineDocument, { target: 'draft-2020-12' }) as Record<string, unknown>;
}

export const isParamValue = (v: unknown): v is ParamValue =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && '$param' in v;
export const isStepValue = (v: unknown): v is StepValue =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && '$step' in v;
export const isItemValue = (v: unknown): v is ItemValue =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && '$item' in v;
export const isRefValue = (v: unknown): v is RefValue => isParamValue(v) || isStepValue(v) || isItemValue(v);
