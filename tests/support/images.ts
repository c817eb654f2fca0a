// Real images for tests, generated with sharp: photo-like content (smooth gradients, texture and
// shapes, so codecs behave as on photos), EXIF-rotated variants and broken files.
import sharp, { type Sharp } from 'sharp';

export type Format = 'jpeg' | 'png' | 'webp' | 'avif';

/** Deterministic pseudo-random numbers (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A width x height RGB image with gradients, noise and a few discs. */
export function photoPixels(width: number, height: number, seed = 1): Buffer {
  const rand = rng(seed);
  const discs = Array.from({ length: 6 }, () => ({
    x: rand() * width,
    y: rand() * height,
    r: (0.05 + rand() * 0.2) * Math.min(width, height),
    c: [rand() * 255, rand() * 255, rand() * 255],
  }));
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      let r = (x / width) * 200 + 30;
      let g = (y / height) * 180 + 40;
      let b = 128 + 60 * Math.sin((x + y) / 37);
      for (const d of discs) {
        if ((x - d.x) ** 2 + (y - d.y) ** 2 < d.r ** 2) [r, g, b] = d.c;
      }
      const n = (rand() - 0.5) * 24;
      data[i] = clamp(r + n);
      data[i + 1] = clamp(g + n);
      data[i + 2] = clamp(b + n);
    }
  }
  return data;
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));

export async function makePhoto(width: number, height: number, format: Format = 'jpeg', seed = 1): Promise<Buffer> {
  const img = sharp(photoPixels(width, height, seed), { raw: { width, height, channels: 3 } });
  return encode(img, format);
}

export function encode(img: Sharp, format: Format): Promise<Buffer> {
  switch (format) {
    case 'jpeg':
      return img.jpeg({ quality: 90 }).toBuffer();
    case 'png':
      return img.png().toBuffer();
    case 'webp':
      return img.webp({ quality: 90 }).toBuffer();
    case 'avif':
      return img.avif({ quality: 60, effort: 0 }).toBuffer();
  }
}

/**
 * An image that is `width` x `height` when shown upright, red on its left half and blue on its
 * right, stored rotated with the EXIF orientation that undoes the rotation.
 */
export async function exifRotated(orientation: 6 | 8 | 3, width = 200, height = 100): Promise<Buffer> {
  const upright = await sharp({ create: { width, height, channels: 3, background: '#0000ff' } })
    .composite([{ input: { create: { width: width / 2, height, channels: 3, background: '#ff0000' } }, left: 0, top: 0 }])
    .png()
    .toBuffer();
  // Store the pixels turned the opposite way of what the tag asks a viewer to do.
  const undo = { 6: 270, 8: 90, 3: 180 }[orientation];
  const stored = await sharp(upright).rotate(undo).toBuffer();
  return sharp(stored).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}

/** A tiny PNG whose header declares width x height: a decompression bomb's shape. */
export async function declaredDimensions(width: number, height: number): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } }).png().toBuffer();
  const bomb = Buffer.from(png);
  // IHDR data starts at byte 16: width then height, big-endian. The CRC is left wrong on purpose:
  // decoders read the header before checking it.
  bomb.writeUInt32BE(width, 16);
  bomb.writeUInt32BE(height, 20);
  return bomb;
}

export async function pixelAt(image: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true });
  const i = (y * info.width + x) * info.channels;
  return [data[i], data[i + 1], data[i + 2]];
}
