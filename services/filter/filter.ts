// The filter operations: validation of the ordered list and one sharp pass per operation.
// sharp applies the operations of a single pipeline in its own fixed order, whatever order they
// were called in; running each operation as its own pass over raw pixels is what makes the
// order given the order applied.
import sharp, { type Sharp } from 'sharp';
import { FilterType, type FilterOperation } from '../shared/gen/imageflow/v1/filter.js';
import { invalidArgument } from '../shared/errors.js';
import { MAX_FILTER_OPS } from '../shared/http-api.js';

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

const LUMA: [number, number, number] = [0.2126, 0.7152, 0.0722];

function applyStep(image: Sharp, step: FilterStep, channels: number): Sharp {
  const v = step.intensity as number;
  switch (step.type) {
    case 'blur':
      return image.blur(v);
    case 'sharpen':
      return image.sharpen({ sigma: v });
    case 'brightness':
      return image.modulate({ brightness: v });
    case 'saturation':
      return image.modulate({ saturation: v });
    case 'contrast': {
      // Scale around mid-grey; alpha (4th channel) passes through.
      const a = [v, v, v, 1].slice(0, channels);
      const b = [128 * (1 - v), 128 * (1 - v), 128 * (1 - v), 0].slice(0, channels);
      return image.linear(a, b);
    }
    case 'grayscale':
      // A luma recombination keeps three channels (and alpha), so later passes see sRGB.
      return image.recomb([[...LUMA], [...LUMA], [...LUMA]]);
    case 'negate':
      return image.negate({ alpha: false });
  }
}

interface RawImage {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
}

const fromRaw = (r: RawImage) => sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });

async function toRaw(image: Sharp): Promise<RawImage> {
  const { data, info } = await image.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as 3 | 4 };
}

/** Applies the steps in order to the decoded, upright image; the result still needs an encoder. */
export async function applyFilters(decoded: Sharp, steps: readonly FilterStep[]): Promise<Sharp> {
  let raw = await toRaw(decoded);
  for (const step of steps.slice(0, -1)) raw = await toRaw(applyStep(fromRaw(raw), step, raw.channels));
  // The last step runs in the encoding pass, saving one copy of the pixels.
  return applyStep(fromRaw(raw), steps[steps.length - 1], raw.channels);
}
