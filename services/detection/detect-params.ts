// Validation of a DetectRequest's parameters against the chosen model. The validated values also
// name the annotated output (deterministic keys), so they are normalised here.
import type { DetectRequest } from '../shared/gen/imageflow/v1/ai_detection.js';
import { invalidArgument } from '../shared/errors.js';
import type { ModelSpec } from './model-registry.js';

export const DEFAULT_CONFIDENCE = 0.3;
export const DEFAULT_IOU = 0.45;
export const DEFAULT_MAX_DETECTIONS = 100;
export const MAX_DETECTIONS_LIMIT = 1000;

export interface DetectParams {
  readonly model: string;
  readonly modelVersion: string;
  readonly confidenceThreshold: number;
  readonly iouThreshold: number;
  readonly maxDetections: number;
  /** Sorted, unique label names; empty keeps every class. */
  readonly classes: readonly string[];
}

/** proto floats arrive as float32; round so 0.3 stays 0.3 in keys, sidecars and comparisons. */
const tidy = (v: number) => Math.round(v * 1e6) / 1e6;

function unit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0 || value > 1) throw invalidArgument(`${name} must be from 0 to 1, got ${value}`);
  return tidy(value);
}

export function detectParams(req: DetectRequest, model: ModelSpec): DetectParams {
  const confidenceThreshold = unit('confidence_threshold', req.confidenceThreshold, DEFAULT_CONFIDENCE);
  const iouThreshold = unit('iou_threshold', req.iouThreshold, DEFAULT_IOU);
  const maxDetections = req.maxDetections ?? DEFAULT_MAX_DETECTIONS;
  if (!Number.isInteger(maxDetections) || maxDetections < 1 || maxDetections > MAX_DETECTIONS_LIMIT) {
    throw invalidArgument(`max_detections must be an integer from 1 to ${MAX_DETECTIONS_LIMIT}, got ${maxDetections}`);
  }
  const known = new Set(model.labels);
  const unknown = req.classes.filter((c) => !known.has(c));
  if (unknown.length) {
    throw invalidArgument(
      `classes ${unknown.map((c) => JSON.stringify(c)).join(', ')} unknown to model "${model.name}"; valid classes: ${model.labels.join(', ')}`,
    );
  }
  return {
    model: model.name,
    modelVersion: model.version,
    confidenceThreshold,
    iouThreshold,
    maxDetections,
    classes: [...new Set(req.classes)].sort(),
  };
}

/** The class ids to keep, or undefined for all. */
export function classIdFilter(params: DetectParams, model: ModelSpec): ReadonlySet<number> | undefined {
  if (!params.classes.length) return undefined;
  const wanted = new Set(params.classes);
  return new Set(model.labels.flatMap((label, id) => (wanted.has(label) ? [id] : [])));
}
