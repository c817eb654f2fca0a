// Benchmark photos, generated with sharp and cached in the temp dir (never downloaded). A 24 MP
// photo drawn pixel by pixel in JS takes long, so the photo-like content (gradients, discs,
// noise from tests/support/images.ts) is drawn at about 1 MP, upscaled with sharp, and given
// full-resolution grain so the encoders see photo-like high frequencies at every size.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { photoPixels } from '../../tests/support/images.js';

export type PhotoFormat = 'jpeg' | 'png' | 'webp';

export interface PhotoSpec {
  /** e.g. "2mp.jpg" */
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly format: PhotoFormat;
}

export interface Photo extends PhotoSpec {
  readonly data: Buffer;
  readonly megapixels: number;
  readonly path: string;
}

/** The sizes the issue asks for: about 0.3, 2, 12 and 24 MP (4:3), JPEG, plus PNG and WebP at 2 MP. */
export const PHOTO_SPECS = {
  '0.3mp.jpg': { name: '0.3mp.jpg', width: 640, height: 480, format: 'jpeg' },
  '2mp.jpg': { name: '2mp.jpg', width: 1632, height: 1224, format: 'jpeg' },
  '12mp.jpg': { name: '12mp.jpg', width: 4000, height: 3000, format: 'jpeg' },
  '24mp.jpg': { name: '24mp.jpg', width: 5664, height: 4248, format: 'jpeg' },
  '2mp.png': { name: '2mp.png', width: 1632, height: 1224, format: 'png' },
  '2mp.webp': { name: '2mp.webp', width: 1632, height: 1224, format: 'webp' },
} as const satisfies Record<string, PhotoSpec>;
export type PhotoName = keyof typeof PHOTO_SPECS;

export const PHOTO_DIR = join(tmpdir(), 'imageflow-bench-photos-v1');

const BASE_WIDTH = 1200;

async function render(spec: PhotoSpec): Promise<Buffer> {
  const bw = Math.min(spec.width, BASE_WIDTH);
  const bh = Math.round((bw * spec.height) / spec.width);
  let img = sharp(photoPixels(bw, bh, 7), { raw: { width: bw, height: bh, channels: 3 } });
  if (bw !== spec.width) {
    const up = await img.resize(spec.width, spec.height, { kernel: 'lanczos3' }).raw().toBuffer();
    const grain = await sharp({
      create: { width: spec.width, height: spec.height, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 18 } },
    })
      .raw()
      .toBuffer();
    img = sharp(up, { raw: { width: spec.width, height: spec.height, channels: 3 } }).composite([
      { input: grain, raw: { width: spec.width, height: spec.height, channels: 3 }, blend: 'soft-light' },
    ]);
    // composite() needs its own pass before an encoder.
    img = sharp(await img.raw().toBuffer(), { raw: { width: spec.width, height: spec.height, channels: 3 } });
  }
  switch (spec.format) {
    case 'jpeg':
      return img.jpeg({ quality: 90 }).toBuffer();
    case 'png':
      return img.png({ compressionLevel: 6 }).toBuffer();
    case 'webp':
      return img.webp({ quality: 90 }).toBuffer();
  }
}

/** The photo, from the cache when it is there. */
export async function photo(name: PhotoName): Promise<Photo> {
  const spec: PhotoSpec = PHOTO_SPECS[name];
  mkdirSync(PHOTO_DIR, { recursive: true });
  const path = join(PHOTO_DIR, spec.name);
  let data: Buffer;
  if (existsSync(path)) data = readFileSync(path);
  else {
    data = await render(spec);
    writeFileSync(`${path}.part`, data);
    renameSync(`${path}.part`, path);
  }
  return { ...spec, data, path, megapixels: (spec.width * spec.height) / 1e6 };
}

export async function photos<N extends PhotoName>(names: readonly N[]): Promise<Record<N, Photo>> {
  const out = {} as Record<N, Photo>;
  for (const n of names) out[n] = await photo(n);
  return out;
}
