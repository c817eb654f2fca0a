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
