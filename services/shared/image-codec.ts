// sharp/libvips settings and the mapping between our formats and sharp's. Every decode goes
// through openImage so the pixel limit and EXIF auto-orientation are never forgotten.
import sharp, { type Metadata, type Sharp } from 'sharp';
import { ImageFormat } from './gen/imageflow/v1/common.js';
import { imageError, invalidArgument } from './errors.js';
import { type OutputFormatName, formatNameOf } from './formats.js';

export { formatEnum, type OutputFormatName } from './formats.js';


export interface DecodedHeader {
  readonly width: number;
  readonly height: number;
  readonly format: string;
}

/** Formats accepted as input. SVG and PDF are refused: they can reference files and URLs. */
const READABLE = new Set(['jpeg', 'png', 'webp', 'avif', 'heif', 'gif', 'tiff']);

export interface CodecSettings {
  readonly limitInputPixels: number;
  /** Accept SVG input (rendered by librsvg, external references blocked by libvips). @default false */
  readonly allowSvg?: boolean;
}

/** The services' libvips settings unless SHARP_CONCURRENCY / SHARP_CACHE_MB say otherwise. */
export const SHARP_DEFAULTS = { concurrency: 1, cacheMemoryMb: 50 } as const;

/**
 * Tunes libvips for a small container: bounded threads per image, bounded operation cache.
 * The thread count is always set: sharp's own default depends on the environment (service-process.ts).
 */
export function configureSharp(options: { concurrency?: number; cacheMemoryMb?: number } = {}): void {
  sharp.concurrency(options.concurrency ?? SHARP_DEFAULTS.concurrency);
  sharp.cache({ memory: options.cacheMemoryMb ?? SHARP_DEFAULTS.cacheMemoryMb, files: 0, items: 100 });
}

/** Reads the header only; refuses unknown formats and images over the pixel limit. */
export async function readHeader(data: Buffer, settings: CodecSettings): Promise<DecodedHeader> {
  if (data.length === 0) throw invalidArgument('image is empty (0 bytes)');
  let meta: Metadata;
  try {
    meta = await sharp(data, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw imageError(err);
  }
  const format = meta.format === 'heif' && meta.compression === 'av1' ? 'avif' : String(meta.format);
  if (format === 'svg' ? !settings.allowSvg : !READABLE.has(format)) {
    throw invalidArgument(
      `input format "${format}" is not accepted; send JPEG, PNG, WebP, AVIF, GIF or TIFF`,
    );
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) throw invalidArgument('image has no dimensions');
  if (width * height > settings.limitInputPixels) {
    throw invalidArgument(
      `image is ${width}x${height} (${width * height} pixels), over the limit of ${settings.limitInputPixels}; send a smaller image or raise LIMIT_INPUT_PIXELS`,
    );
  }
  // EXIF orientations 5-8 swap the sides once the image is upright.
  const swapped = (meta.orientation ?? 1) >= 5;
  return { width: swapped ? height : width, height: swapped ? width : height, format };
}

/** A sharp pipeline over the input, upright (EXIF orientation applied), within the pixel limit. */
export function openImage(data: Buffer, settings: CodecSettings): Sharp {
  return sharp(data, { limitInputPixels: settings.limitInputPixels, failOn: 'error' }).autoOrient();
}

export function formatName(format: ImageFormat, inputFormat: string): OutputFormatName {
  if (format === ImageFormat.IMAGE_FORMAT_UNSPECIFIED) return keepFormat(inputFormat);
  const name = formatNameOf(format);
  if (!name) throw invalidArgument(`output.format ${format} is unknown; use one of JPEG, PNG, WEBP, AVIF`);
  return name;
}

/** "Keep" for formats we cannot (or should not) write falls back to PNG, which is lossless. */
export function keepFormat(inputFormat: string): OutputFormatName {
  if (inputFormat === 'jpeg' || inputFormat === 'png' || inputFormat === 'webp' || inputFormat === 'avif') return inputFormat;
  return 'png';
}

export const contentType = (name: OutputFormatName) => `image/${name}`;
export const extension = (name: OutputFormatName) => (name === 'jpeg' ? 'jpg' : name);

/** Sets the encoder; quality 0 means the encoder's default. */
export function encodeAs(image: Sharp, name: OutputFormatName, quality: number): Sharp {
  const q = quality > 0 ? { quality } : {};
  switch (name) {
    case 'jpeg':
      return image.jpeg({ ...q, mozjpeg: false });
    case 'png':
      return image.png({ compressionLevel: 6 });
    case 'webp':
      return image.webp({ ...q, effort: 3 });
    case 'avif':
      // effort 2 keeps AVIF encodes in the same order of time as the others on 2 cores.
      return image.avif({ ...q, effort: 2 });
  }
}
