// A hostile and odd image corpus generated with sharp and byte surgery (nothing downloaded):
// valid but unusual images the services must handle, broken ones they must refuse cleanly,
// upright-checkable EXIF orientations 1–8, and a seeded mutator for the fuzz test.
import sharp, { type Sharp } from 'sharp';
import { makePhoto, photoPixels, rng } from '../../support/images.js';

export interface CorpusCase {
  readonly name: string;
  readonly data: Buffer;
}

const frames = (w: number, h: number, n: number) =>
  Buffer.concat(Array.from({ length: n }, (_, i) => photoPixels(w, h, 10 + i)));

/** Valid images in less common shapes: each must succeed. */
export async function oddValidImages(): Promise<CorpusCase[]> {
  const photo = photoPixels(96, 64, 3);
  const raw = { raw: { width: 96, height: 64, channels: 3 as const } };
  const strip = (w: number, h: number) => sharp({ create: { width: w, height: h, channels: 3, background: '#3a7' } });
  return [
    { name: 'CMYK JPEG', data: await sharp(photo, raw).toColourspace('cmyk').jpeg().toBuffer() },
    { name: '16-bit PNG', data: await sharp(photo, raw).toColourspace('rgb16').png().toBuffer() },
    { name: 'LZW TIFF', data: await sharp(photo, raw).tiff({ compression: 'lzw' }).toBuffer() },
    { name: 'grey + alpha PNG', data: await sharp(photo, raw).greyscale().ensureAlpha(0.5).png().toBuffer() },
    { name: 'palette PNG', data: await sharp(photo, raw).png({ palette: true, colours: 16 }).toBuffer() },
    { name: 'progressive JPEG', data: await sharp(photo, raw).jpeg({ progressive: true }).toBuffer() },
    {
      name: 'animated GIF (4 frames)',
      data: await sharp(frames(48, 32, 4), { raw: { width: 48, height: 32 * 4, channels: 3, pageHeight: 32 } }).gif({ delay: [80, 80, 80, 80] }).toBuffer(),
    },
    {
      name: 'animated WebP (4 frames)',
      data: await sharp(frames(48, 32, 4), { raw: { width: 48, height: 32 * 4, channels: 3, pageHeight: 32 } }).webp({ delay: [80, 80, 80, 80] }).toBuffer(),
    },
    { name: 'very wide (16000x2)', data: await strip(16_000, 2).png().toBuffer() },
    { name: 'very tall (2x16000)', data: await strip(2, 16_000).png().toBuffer() },
    { name: '1x1 GIF', data: await strip(1, 1).gif().toBuffer() },
  ];
}

/** Broken or hostile bytes: each must be refused with INVALID_ARGUMENT, except where `mayDecode` (libvips may recover). */
export async function brokenImages(): Promise<Array<CorpusCase & { mayDecode?: boolean }>> {
  const png = await makePhoto(120, 80, 'png', 5);
  const webp = await makePhoto(120, 80, 'webp', 5);
  const jpeg = await makePhoto(120, 80, 'jpeg', 5);
  const gif = await sharp(photoPixels(40, 30, 2), { raw: { width: 40, height: 30, channels: 3 } }).gif().toBuffer();
  return [
    { name: 'truncated PNG (header only)', data: png.subarray(0, 60) },
    { name: 'truncated PNG (half)', data: png.subarray(0, png.length >> 1) },
    { name: 'truncated WebP', data: webp.subarray(0, webp.length >> 1) },
    { name: 'JPEG with its SOF marker wiped', data: wipeSof(jpeg) },
    { name: 'JPEG declaring 65000x65000 in its SOF', data: jpegDeclaring(jpeg, 65_000, 65_000) },
    { name: 'GIF declaring a 65535x65535 screen and frame', data: gifDeclaring(gif, 65_535, 65_535), mayDecode: true },
    { name: 'PNG magic then garbage', data: Buffer.concat([png.subarray(0, 8), Buffer.alloc(512, 0xab)]) },
    { name: 'JPEG magic then zeros', data: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(1024)]) },
    { name: 'RIFF/WEBP header with nothing inside', data: Buffer.from('RIFF\x04\x00\x00\x00WEBP', 'latin1') },
    { name: 'HTML pretending to be an image', data: Buffer.from('<!doctype html><html><script>alert(1)</script></html>') },
    { name: 'PDF', data: Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n') },
  ];
}

/** SVGs that try to reach the network and the file system, for services that accept SVG. */
export function hostileSvgs(probeUrl: string): CorpusCase[] {
  const svg = (body: string) => Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="30">${body}</svg>`);
  return [
    { name: 'SVG <image> with an http URL', data: svg(`<image href="${probeUrl}/image.png" width="40" height="30"/>`) },
    { name: 'SVG <image xlink:href> to a file', data: svg('<image xlink:href="file:///etc/passwd" width="40" height="30"/>') },
    { name: 'SVG with a script', data: svg(`<script>fetch("${probeUrl}/script")</script><rect width="40" height="30" fill="red"/>`) },
    { name: 'SVG with an external stylesheet', data: Buffer.from(`<?xml-stylesheet href="${probeUrl}/style.css"?>` + svg('<rect width="40" height="30"/>').toString()) },
    {
      name: 'SVG with an external entity',
      data: Buffer.from(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "${probeUrl}/entity">]>` + svg('<text y="20">&x;</text>').toString()),
    },
  ];
}

function markerOffset(jpeg: Buffer, marker: number): number {
  for (let i = 2; i < jpeg.length - 1; ) {
    if (jpeg[i] !== 0xff) return -1;
    const m = jpeg[i + 1];
    if (m === marker) return i;
    i += 2 + jpeg.readUInt16BE(i + 2);
  }
  return -1;
}

function wipeSof(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  const at = markerOffset(out, 0xc0);
  out.fill(0, at, at + 19);
  return out;
}

function jpegDeclaring(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  const at = markerOffset(out, 0xc0);
  // FF C0, length(2), precision(1), height(2), width(2)
  out.writeUInt16BE(height, at + 5);
  out.writeUInt16BE(width, at + 7);
  return out;
}

function gifDeclaring(gif: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(gif);
  out.writeUInt16LE(width, 6); // logical screen
  out.writeUInt16LE(height, 8);
  const desc = out.indexOf(0x2c, 13); // first image descriptor
  if (desc > 0) {
    out.writeUInt16LE(width, desc + 5);
    out.writeUInt16LE(height, desc + 7);
  }
  return out;
}

/**
 * A 200x100 image shown upright (red top-left, green top-right, blue bottom-left, white
 * bottom-right), stored so that EXIF `orientation` makes it upright again.
 */
export async function orientedQuadrants(orientation: number): Promise<Buffer> {
  const q = (background: string) => ({ create: { width: 100, height: 50, channels: 3 as const, background } });
  const upright = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#fff' } })
    .composite([
      { input: q('#f00'), left: 0, top: 0 },
      { input: q('#0f0'), left: 100, top: 0 },
      { input: q('#00f'), left: 0, top: 50 },
    ])
    .png()
    .toBuffer();
  // The stored pixels are the upright image put through the inverse of what the tag tells a viewer to do.
  const step = async (img: Buffer, f: (s: Sharp) => Sharp) => f(sharp(img)).png().toBuffer();
  const stored: Record<number, () => Promise<Buffer>> = {
    1: async () => upright,
    2: () => step(upright, (s) => s.flop()),
    3: () => step(upright, (s) => s.rotate(180)),
    4: () => step(upright, (s) => s.flip()),
    5: async () => step(await step(upright, (s) => s.rotate(90)), (s) => s.flop()), // transpose
    6: () => step(upright, (s) => s.rotate(270)),
    7: async () => step(await step(upright, (s) => s.rotate(270)), (s) => s.flop()), // transverse
    8: () => step(upright, (s) => s.rotate(90)),
  };
  return sharp(await stored[orientation]()).withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
}

/** Mutates a valid image: bit flips, byte runs, truncation, header edits, splices. Deterministic per seed. */
export function mutate(image: Buffer, seed: number): { data: Buffer; how: string } {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const out = Buffer.from(image);
  const kind = int(6);
  switch (kind) {
    case 0: {
      const flips = 1 + int(16);
      for (let i = 0; i < flips; i++) out[int(out.length)] ^= 1 << int(8);
      return { data: out, how: `${flips} bit flips` };
    }
    case 1: {
      const at = int(out.length);
      const len = 1 + int(64);
      out.fill(int(256), at, Math.min(out.length, at + len));
      return { data: out, how: `run of ${len} bytes at ${at}` };
    }
    case 2: {
      const at = int(out.length);
      return { data: out.subarray(0, at), how: `truncated to ${at}` };
    }
    case 3: {
      // The first 64 bytes hold the headers (sizes, chunk lengths, markers) of every format here.
      const edits = 1 + int(6);
      for (let i = 0; i < edits; i++) out[int(Math.min(64, out.length))] = int(256);
      return { data: out, how: `${edits} header byte edits` };
    }
    case 4: {
      const at = int(out.length);
      const len = int(Math.min(4096, out.length - at));
      return { data: Buffer.concat([out.subarray(0, at), out.subarray(at + len)]), how: `cut ${len} bytes at ${at}` };
    }
    default: {
      // Duplicate a slice: lengths and offsets after it go wrong.
      const at = int(out.length);
      const len = 1 + int(2048);
      return { data: Buffer.concat([out.subarray(0, at), out.subarray(at, at + len), out.subarray(at)]), how: `duplicated ${len} bytes at ${at}` };
    }
  }
}
