// The validated, canonical parameters of each pixel operation, independent of sharp and gRPC
// transport code. They name outputs (deriveOutputKey hashes them), so the services and the
// gateway's fused /v1/pipeline must compute them with the same functions: keep them here.
import { Fit, type ResizeRequest } from './gen/imageflow/v1/resize.js';
import { FilterType, type FilterOperation } from './gen/imageflow/v1/filter.js';
import { invalidArgument } from './errors.js';
import { MAX_DIMENSION, MAX_FILTER_OPS } from './http-api.js';

export type FitName = 'contain' | 'cover' | 'fill' | 'inside' | 'outside';

export interface ResizeParams {
  readonly width?: number;
  readonly height?: number;
  readonly fit: FitName;
  readonly withoutEnlargement: boolean;
  readonly background?: string;
}

const FITS: Record<number, ResizeParams['fit']> = {
  [Fit.FIT_UNSPECIFIED]: 'inside',
  [Fit.FIT_CONTAIN]: 'contain',
  [Fit.FIT_COVER]: 'cover',
  [Fit.FIT_FILL]: 'fill',
  [Fit.FIT_INSIDE]: 'inside',
  [Fit.FIT_OUTSIDE]: 'outside',
};

function checkDimension(name: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > MAX_DIMENSION) {
    throw invalidArgument(`${name} must be an integer from 1 to ${MAX_DIMENSION}, got ${value}`);
  }
  return value;
}

export function resizeParams(req: ResizeRequest): ResizeParams {
  const width = checkDimension('width', req.width);
  const height = checkDimension('height', req.height);
  if (width === undefined && height === undefined) throw invalidArgument('set width, height or both');
  const fit = FITS[req.fit];
  if (!fit) throw invalidArgument(`fit ${req.fit} is unknown; use CONTAIN, COVER, FILL, INSIDE or OUTSIDE`);
  if (req.background && !/^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.test(req.background)) {
    throw invalidArgument(`background must be #rrggbb or #rrggbbaa, got "${req.background}"`);
  }
  return { width, height, fit, withoutEnlargement: req.withoutEnlargement, background: req.background || undefined };
}

export type FilterName = 'blur' | 'sharpen' | 'brightness' | 'contrast' | 'saturation' | 'grayscale' | 'negate';

export interface FilterStep {
  readonly type: FilterName;
  readonly intensity?: number;
}

interface FilterRule {
  readonly name: FilterName;
  /** Undefined range: the type takes no intensity. */
  readonly range?: readonly [number, number];
  /** Undefined default with a range: intensity is required. */
  readonly fallback?: number;
  readonly meaning?: string;
}

const RULES: Record<number, FilterRule> = {
  [FilterType.FILTER_TYPE_BLUR]: { name: 'blur', range: [0.3, 1000], fallback: 3, meaning: 'sigma in pixels' },
  [FilterType.FILTER_TYPE_SHARPEN]: { name: 'sharpen', range: [0.01, 10], fallback: 1, meaning: 'sigma in pixels' },
  [FilterType.FILTER_TYPE_BRIGHTNESS]: { name: 'brightness', range: [0, 10], meaning: 'a multiplier where 1 is neutral, e.g. 1.2' },
  [FilterType.FILTER_TYPE_CONTRAST]: { name: 'contrast', range: [0, 10], meaning: 'a multiplier where 1 is neutral, e.g. 1.2' },
  [FilterType.FILTER_TYPE_SATURATION]: { name: 'saturation', range: [0, 10], meaning: 'a multiplier where 1 is neutral and 0 is grey' },
  [FilterType.FILTER_TYPE_GRAYSCALE]: { name: 'grayscale' },
  [FilterType.FILTER_TYPE_NEGATE]: { name: 'negate' },
};

export function filterSteps(operations: readonly FilterOperation[]): FilterStep[] {
  if (operations.length === 0) throw invalidArgument('operations needs at least one operation');
  if (operations.length > MAX_FILTER_OPS) {
    throw invalidArgument(`operations has ${operations.length} entries; at most ${MAX_FILTER_OPS} are allowed`);
  }
  return operations.map((op, i) => {
    const rule = RULES[op.type];
    if (!rule) {
      throw invalidArgument(`operations[${i}].type ${op.type} is unknown; use BLUR, SHARPEN, BRIGHTNESS, CONTRAST, SATURATION, GRAYSCALE or NEGATE`);
    }
    const where = `operations[${i}] (${rule.name})`;
    if (!rule.range) {
      if (op.intensity !== undefined) throw invalidArgument(`${where} takes no intensity; remove it`);
      return { type: rule.name };
    }
    const intensity = op.intensity ?? rule.fallback;
    if (intensity === undefined) throw invalidArgument(`${where}: intensity is required: ${rule.meaning}`);
    const [min, max] = rule.range;
    if (!Number.isFinite(intensity) || intensity < min || intensity > max) {
      throw invalidArgument(`${where}: intensity must be ${rule.meaning}, from ${min} to ${max}; got ${intensity}`);
    }
    return { type: rule.name, intensity };
  });
}
