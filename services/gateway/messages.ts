// Translation between the HTTP/JSON contract (services/shared/http-api.ts) and the gRPC messages
// (services/shared/gen): camelCase JSON in, proto messages out, and back.
import { ImageFormat, OutputDelivery, type ImageSource, type OutputImage, type OutputSpec } from '../shared/gen/imageflow/v1/common.js';
import { Fit as FitEnum, type ResizeRequest as ResizeMessage } from '../shared/gen/imageflow/v1/resize.js';
import { FilterType as FilterTypeEnum, type FilterOperation } from '../shared/gen/imageflow/v1/filter.js';
import type { DetectRequest as DetectMessage, DetectResponse as DetectMessageResponse, DetectionTimings } from '../shared/gen/imageflow/v1/ai_detection.js';
import { formatNameOf } from '../shared/formats.js';
import { decodeBase64WithHeadroom } from './headroom.js';
import type {
  DetectOptions,
  Detection,
  FilterOp,
  Fit,
  ImageInput,
  OutputFormat,
  OutputOptions,
  OutputResult,
  ResizeOptions,
} from '../shared/http-api.js';

export { OutputDelivery };

const FITS: Record<Fit, FitEnum> = {
  contain: FitEnum.FIT_CONTAIN,
  cover: FitEnum.FIT_COVER,
  fill: FitEnum.FIT_FILL,
  inside: FitEnum.FIT_INSIDE,
  outside: FitEnum.FIT_OUTSIDE,
};

const FILTER_TYPES: Record<FilterOp['type'], FilterTypeEnum> = {
  blur: FilterTypeEnum.FILTER_TYPE_BLUR,
  sharpen: FilterTypeEnum.FILTER_TYPE_SHARPEN,
  brightness: FilterTypeEnum.FILTER_TYPE_BRIGHTNESS,
  contrast: FilterTypeEnum.FILTER_TYPE_CONTRAST,
  saturation: FilterTypeEnum.FILTER_TYPE_SATURATION,
  grayscale: FilterTypeEnum.FILTER_TYPE_GRAYSCALE,
  negate: FilterTypeEnum.FILTER_TYPE_NEGATE,
};

const FORMATS: Record<OutputFormat, ImageFormat> = {
  keep: ImageFormat.IMAGE_FORMAT_UNSPECIFIED,
  jpeg: ImageFormat.IMAGE_FORMAT_JPEG,
  png: ImageFormat.IMAGE_FORMAT_PNG,
  webp: ImageFormat.IMAGE_FORMAT_WEBP,
  avif: ImageFormat.IMAGE_FORMAT_AVIF,
};

export type FormatName = OutputResult['format'];

export function formatName(format: ImageFormat): FormatName {
  const name = formatNameOf(format);
  // Services always answer a concrete format; anything else is a bug, not something to guess.
  if (!name) throw new Error(`upstream answered with an unknown image format (${format})`);
  return name;
}

export const formatEnum = (format: OutputFormat | undefined): ImageFormat => FORMATS[format ?? 'keep'];

/** Object inputs get an explicit bucket (the gateway's default when absent), so keys derive alike everywhere. */
export function imageSource(input: ImageInput, defaultBucket: string): ImageSource {
  if ('data' in input) return { data: decodeBase64WithHeadroom(input.data) };
  return { object: { bucket: input.bucket ?? defaultBucket, key: input.key } };
}

export function outputSpec(output: OutputOptions | undefined, delivery: OutputDelivery): OutputSpec {
  return {
    bucket: output?.bucket ?? '',
    key: output?.key ?? '',
    format: formatEnum(output?.format),
    quality: output?.quality ?? 0,
    delivery,
    reuseExisting: false,
  };
}

export function resizeMessage(options: ResizeOptions, source: ImageSource, output: OutputSpec): ResizeMessage {
  return {
    source,
    width: options.width,
    height: options.height,
    fit: options.fit ? FITS[options.fit] : FitEnum.FIT_UNSPECIFIED,
    withoutEnlargement: options.withoutEnlargement ?? false,
    background: options.background ?? '',
    output,
  };
}

export const filterOperations = (ops: readonly FilterOp[]): FilterOperation[] =>
  ops.map((op) => ({ type: FILTER_TYPES[op.type], intensity: op.intensity }));

export function detectMessage(options: DetectOptions, source: ImageSource, output: OutputSpec | undefined): DetectMessage {
  return {
    source,
    model: options.model ?? '',
    confidenceThreshold: options.confidenceThreshold,
    iouThreshold: options.iouThreshold,
    maxDetections: options.maxDetections,
    classes: options.classes ?? [],
    drawBoxes: options.drawBoxes ?? false,
    output,
  };
}

export function outputResult(image: OutputImage): OutputResult {
  return {
    ...(image.object ? { bucket: image.object.bucket, key: image.object.key } : {}),
    width: image.width,
    height: image.height,
    format: formatName(image.format),
    sizeBytes: Number(image.sizeBytes),
    ...(image.reused ? { reused: true } : {}),
  };
}

export function detections(response: DetectMessageResponse): Detection[] {
  return response.detections.map((d) => ({
    classId: d.classId,
    label: d.label,
    confidence: d.confidence,
    box: { x: d.box?.x ?? 0, y: d.box?.y ?? 0, width: d.box?.width ?? 0, height: d.box?.height ?? 0 },
  }));
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** A service's timings (proto message) as the JSON record, zeros dropped, plus extra phases. */
export function timingsRecord(t: object | undefined, extra: Record<string, number> = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries((t ?? {}) as Record<string, unknown>)) {
    if (typeof v === 'number' && v !== 0) out[k] = round(v);
  }
  for (const [k, v] of Object.entries(extra)) out[k] = round(v);
  return out;
}

export type { DetectionTimings };
