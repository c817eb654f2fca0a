// The gateway's HTTP/JSON contract as zod schemas: the single source for request validation, the
// OpenAPI document, and the pipeline DSL's step option types. Only zod here (no gRPC, no sharp),
// so constructs/ can import it.
import { z } from 'zod';

export const MAX_DIMENSION = 16_384;
export const MAX_FILTER_OPS = 32;
export const MAX_PIPELINE_STEPS = 16;

/** S3 object key: relative, no `..` segment, no control characters, at most 1024 bytes. */
export const ObjectKey = z
  .string()
  .min(1, 'key must not be empty')
  .max(1024, 'key must be at most 1024 characters')
  .refine((k) => !k.startsWith('/'), 'key must be relative: remove the leading "/"')
  .refine((k) => !k.split('/').includes('..'), 'key must not contain a ".." segment')
  // eslint-disable-next-line no-control-regex
  .refine((k) => !/[\u0000-\u001f\u007f]/.test(k), 'key must not contain control characters');

/** S3 bucket name rules (3–63 chars, lowercase letters, digits, dots, hyphens). */
export const BucketName = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    'bucket must be 3-63 characters of lowercase letters, digits, "." and "-"',
  );

export const ObjectInput = z.strictObject({
  bucket: BucketName.optional().describe('Default: the gateway default bucket'),
  key: ObjectKey,
});
export const InlineInput = z.strictObject({
  data: z.base64('data must be base64-encoded image bytes').min(1, 'data must not be empty'),
});
/** An image addressed by object reference or sent inline as base64. */
export const ImageInput = z.union([ObjectInput, InlineInput]);
export type ImageInput = z.infer<typeof ImageInput>;

export const OutputFormat = z.enum(['keep', 'jpeg', 'png', 'webp', 'avif']);
export type OutputFormat = z.infer<typeof OutputFormat>;

export const OutputOptions = z.strictObject({
  bucket: BucketName.optional().describe("Default: the input's bucket (or the default bucket)"),
  key: ObjectKey.optional().describe('Default: a deterministic key derived from input and parameters'),
  format: OutputFormat.optional().describe('Default: keep'),
  quality: z.int().min(1).max(100).optional().describe("Default: the encoder's default"),
});
export type OutputOptions = z.infer<typeof OutputOptions>;

const dimension = z.int().min(1).max(MAX_DIMENSION);

export const Fit = z.enum(['contain', 'cover', 'fill', 'inside', 'outside']);
export type Fit = z.infer<typeof Fit>;

/** Resize options (shared by /v1/resize, pipeline steps and the DSL). */
export const resizeShape = {
  width: dimension.optional().describe('Target width in pixels'),
  height: dimension.optional().describe('Target height in pixels'),
  fit: Fit.optional().describe('Default: inside. Aspect ratio is kept unless fill'),
  withoutEnlargement: z.boolean().optional().describe('Default: false'),
  background: z
    .string()
    .regex(/^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/, 'background must be #rrggbb or #rrggbbaa')
    .optional()
    .describe('Padding colour for fit=contain'),
};
const needsASize = (p: { width?: number; height?: number }) =>
  p.width !== undefined || p.height !== undefined;
const needsASizeMessage = { message: 'resize needs width, height or both' };

export const ResizeOptions = z.strictObject(resizeShape).refine(needsASize, needsASizeMessage);
export type ResizeOptions = z.infer<typeof ResizeOptions>;

export const FilterType = z.enum([
  'blur',
  'sharpen',
  'brightness',
  'contrast',
  'saturation',
  'grayscale',
  'negate',
]);
export type FilterType = z.infer<typeof FilterType>;

/**
 * One filter operation. intensity: blur/sharpen = sigma in px (default 3 / 1);
 * brightness/contrast/saturation = multiplier, 1 is neutral (required);
 * grayscale/negate take none.
 */
export const FilterOp = z.strictObject({
  type: FilterType,
  intensity: z.number().finite().optional(),
});
export type FilterOp = z.infer<typeof FilterOp>;

export const filterShape = {
  ops: z.array(FilterOp).min(1, 'ops needs at least one operation').max(MAX_FILTER_OPS),
};
export const FilterOptions = z.strictObject(filterShape);
export type FilterOptions = z.infer<typeof FilterOptions>;

export const detectShape = {
  model: z.string().min(1).max(128).optional().describe('Default: the registry default model'),
  confidenceThreshold: z.number().min(0).max(1).optional().describe('Default: 0.3'),
  iouThreshold: z.number().min(0).max(1).optional().describe('Default: 0.45'),
  maxDetections: z.int().min(1).max(1000).optional().describe('Default: 100'),
  classes: z.array(z.string().min(1).max(64)).max(100).optional().describe('Default: all'),
  drawBoxes: z.boolean().optional().describe('Default: false'),
};
export const DetectOptions = z.strictObject(detectShape);
export type DetectOptions = z.infer<typeof DetectOptions>;

export const ResizeRequest = z
  .strictObject({ input: ImageInput, ...resizeShape, output: OutputOptions.optional() })
  .refine(needsASize, needsASizeMessage);
export type ResizeRequest = z.infer<typeof ResizeRequest>;

export const FilterRequest = z.strictObject({
  input: ImageInput,
  ...filterShape,
  output: OutputOptions.optional(),
});
export type FilterRequest = z.infer<typeof FilterRequest>;

export const DetectRequest = z.strictObject({
  input: ImageInput,
  ...detectShape,
  output: OutputOptions.optional(),
});
export type DetectRequest = z.infer<typeof DetectRequest>;

/**
 * A step of /v1/pipeline. The image flows from step to step in memory. A detect step passes its
 * input image on unchanged, or the annotated image when drawBoxes is true.
 */
export const PipelineStep = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('resize'), ...resizeShape }).refine(needsASize, needsASizeMessage),
  z.strictObject({ op: z.literal('filter'), ...filterShape }),
  z.strictObject({ op: z.literal('detect'), ...detectShape }),
]);
export type PipelineStep = z.infer<typeof PipelineStep>;

export const PipelineRequest = z.strictObject({
  input: ImageInput,
  steps: z.array(PipelineStep).min(1, 'steps needs at least one step').max(MAX_PIPELINE_STEPS),
  output: OutputOptions.optional(),
});
export type PipelineRequest = z.infer<typeof PipelineRequest>;

// ---- Answers ----

export const OutputResult = z.object({
  bucket: z.string().optional(),
  key: z.string().optional(),
  width: z.int(),
  height: z.int(),
  format: z.enum(['jpeg', 'png', 'webp', 'avif']),
  sizeBytes: z.int(),
  reused: z.boolean().optional(),
});
export type OutputResult = z.infer<typeof OutputResult>;

export const Box = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() });
export const Detection = z.object({
  classId: z.int(),
  label: z.string(),
  confidence: z.number(),
  box: Box,
});
export type Detection = z.infer<typeof Detection>;

/** Milliseconds per phase; which phases appear depends on the operation. */
export const Timings = z.record(z.string(), z.number());

export const ImageResponse = z.object({ output: OutputResult, timings: Timings });
export type ImageResponse = z.infer<typeof ImageResponse>;

export const DetectResponse = z.object({
  detections: z.array(Detection),
  model: z.string(),
  modelVersion: z.string(),
  imageWidth: z.int(),
  imageHeight: z.int(),
  output: OutputResult.optional().describe('The annotated image, when drawBoxes is true'),
  sidecar: z.object({ bucket: z.string(), key: z.string() }).optional(),
  timings: Timings,
});
export type DetectResponse = z.infer<typeof DetectResponse>;

export const PipelineStepResult = z.object({
  op: z.enum(['resize', 'filter', 'detect']),
  width: z.int(),
  height: z.int(),
  detections: z.array(Detection).optional(),
  model: z.string().optional(),
  timings: Timings,
});
export const PipelineResponse = z.object({
  output: OutputResult,
  steps: z.array(PipelineStepResult),
  /** All detections of all detect steps, in step order. */
  detections: z.array(Detection),
  sidecar: z.object({ bucket: z.string(), key: z.string() }).optional(),
  timings: Timings,
});
export type PipelineResponse = z.infer<typeof PipelineResponse>;

export const ErrorCode = z.enum([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'RESOURCE_EXHAUSTED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'FAILED_PRECONDITION',
  'INTERNAL',
  'UNKNOWN',
  // The other gRPC codes, answered with HTTP 500 when a service uses them.
  'CANCELLED',
  'ALREADY_EXISTS',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'DATA_LOSS',
]);
/** The one error shape every failure answers with. */
export const ErrorResponse = z.object({
  error: z.object({ code: ErrorCode, message: z.string(), requestId: z.string() }),
});
export type ErrorResponse = z.infer<typeof ErrorResponse>;
