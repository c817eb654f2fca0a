// Image -> model input tensors, with sharp (decode, auto-orient, resize, pad in one libvips
// pass, off the event loop). Each layout matches what its model was trained on.
import type { Sharp } from 'sharp';
import type { Letterbox } from './letterbox.js';

/** NHWC float32 RGB in 0..255, stretched to the input size: what CenterNet expects. */
export async function stretchedNhwc255(image: Sharp, width: number, height: number): Promise<Float32Array> {
  const rgb = await rgbPixels(image.resize(width, height, { fit: 'fill' }), width, height);
  return Float32Array.from(rgb);
}

/** NCHW float32 RGB in 0..1, letterboxed on grey 114: what YOLOv8 exports expect. */
export async function letterboxedNchw01(image: Sharp, lb: Letterbox): Promise<Float32Array> {
  const grey = { r: 114, g: 114, b: 114 };
  const padded = image
    .resize(lb.width, lb.height, { fit: 'fill' })
    .extend({
      top: lb.padTop,
      left: lb.padLeft,
      bottom: lb.inputHeight - lb.height - lb.padTop,
      right: lb.inputWidth - lb.width - lb.padLeft,
      background: grey,
    });
  const rgb = await rgbPixels(padded, lb.inputWidth, lb.inputHeight);
  const plane = lb.inputWidth * lb.inputHeight;
  const out = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    out[p] = rgb[p * 3] / 255;
    out[plane + p] = rgb[p * 3 + 1] / 255;
    out[2 * plane + p] = rgb[p * 3 + 2] / 255;
  }
  return out;
}

/** Interleaved 8-bit RGB, whatever the input had (grey, alpha, CMYK, 16-bit). */
async function rgbPixels(image: Sharp, width: number, height: number): Promise<Uint8Array> {
  const { data, info } = await image
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height || info.channels !== 3) {
    throw new Error(`preprocess produced ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`);
  }
  return data;
}
