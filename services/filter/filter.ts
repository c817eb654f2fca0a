// The filter operations: validation of the ordered list and one sharp pass per operation.
// sharp applies the operations of a single pipeline in its own fixed order, whatever order they
// were called in; running each operation as its own pass over raw pixels is what makes the
// order given the order applied.
import sharp, { type Sharp } from 'sharp';
import type { FilterStep } from '../shared/operation-params.js';

// Validation lives in services/shared/operation-params.ts (the gateway derives keys with it too).
export { filterSteps, type FilterName, type FilterStep } from '../shared/operation-params.js';

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

/** Operations whose result does not depend on the channel count, so they need no raw pass first. */
const CHANNEL_AGNOSTIC: ReadonlySet<FilterStep['type']> = new Set(['blur', 'sharpen', 'brightness', 'saturation', 'negate']);

/** Applies the steps in order to the decoded, upright image; the result still needs an encoder. */
export async function applyFilters(decoded: Sharp, steps: readonly FilterStep[]): Promise<Sharp> {
  // One operation has no order to keep: it runs in the decode-encode pass itself, without
  // materialising the decoded pixels (one full-size copy fewer: time, and memory on big inputs).
  if (steps.length === 1 && CHANNEL_AGNOSTIC.has(steps[0].type)) return applyStep(decoded.toColourspace('srgb'), steps[0], 3);
  let raw = await toRaw(decoded);
  for (const step of steps.slice(0, -1)) raw = await toRaw(applyStep(fromRaw(raw), step, raw.channels));
  // The last step runs in the encoding pass, saving one copy of the pixels.
  return applyStep(fromRaw(raw), steps[steps.length - 1], raw.channels);
}
