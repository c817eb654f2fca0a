// The resize operation: request validation and the sharp transform, independent of gRPC.
import type { Sharp } from 'sharp';
import type { ResizeParams } from '../shared/operation-params.js';

// Validation lives in services/shared/operation-params.ts (the gateway derives keys with it too).
export { resizeParams, type ResizeParams } from '../shared/operation-params.js';

export function applyResize(image: Sharp, p: ResizeParams): Sharp {
  return image.resize({
    width: p.width,
    height: p.height,
    fit: p.fit,
    withoutEnlargement: p.withoutEnlargement,
    background: p.background ?? { r: 0, g: 0, b: 0, alpha: 0 },
  });
}

/**
 * The output's pixels, estimated from the upright input's size (the exact size is known only
 * after the resize; this picks the encoder's mode, see image-operation.ts).
 */
export function resizedPixels(p: ResizeParams, width: number, height: number): number {
  const sx = p.width !== undefined ? p.width / width : undefined;
  const sy = p.height !== undefined ? p.height / height : undefined;
  if (sx !== undefined && sy !== undefined && (p.fit === 'fill' || p.fit === 'cover' || p.fit === 'contain')) {
    // The box itself (without enlargement, at most the input).
    return p.withoutEnlargement ? Math.min(p.width! * p.height!, width * height) : p.width! * p.height!;
  }
  let s = sx !== undefined && sy !== undefined ? (p.fit === 'outside' ? Math.max(sx, sy) : Math.min(sx, sy)) : (sx ?? sy ?? 1);
  if (p.withoutEnlargement) s = Math.min(s, 1);
  return Math.round(width * s) * Math.round(height * s);
}
