// Where images come from and where results go: loading an ImageSource (object or inline bytes),
// planning the output (format, deterministic key, delivery), reusing an existing output, and
// writing it. Shared by every image service so they all behave the same.
import { BucketName, ObjectKey } from './http-api.js';
import { ImageSource, OutputDelivery, OutputImage, OutputSpec } from './gen/imageflow/v1/common.js';
import { Code, ServiceError, invalidArgument, resourceExhausted } from './errors.js';
import { type CodecSettings, type OutputFormatName, contentType, extension, formatEnum, formatName } from './image-codec.js';
import { type KeySource, deriveOutputKey, paramsHash, sha256Hex } from './keys.js';
import type { PixelBudget } from './pixel-budget.js';
import { type ObjectLocation, Storage } from './storage.js';

export interface ImageContext {
  /** Undefined when no storage is configured (MINIO_ENDPOINT unset): only inline images work. */
  readonly storage?: Storage;
  readonly defaultBucket: string;
  readonly codec: CodecSettings;
  readonly maxInputBytes: number;
  /** Bounds the pixels decoded at once (MAX_INFLIGHT_PIXELS). @default unbounded */
  readonly pixels?: PixelBudget;
}

export interface LoadedSource {
  readonly data: Buffer;
  readonly keySource: KeySource;
  /** Identifies the input's content: the object's ETag or the bytes' SHA-256. */
  readonly version: string;
  /** The bucket outputs go to unless the request names one. */
  readonly bucket: string;
  readonly isObject: boolean;
  readonly readMs: number;
}

export interface OutputPlan {
  readonly format: OutputFormatName;
  readonly quality: number;
  readonly store?: ObjectLocation;
  readonly inline: boolean;
  readonly hash: string;
  readonly reuseExisting: boolean;
}

export interface Encoded {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

export function requireStorage(ctx: ImageContext, why: string): Storage {
  if (!ctx.storage) {
    throw new ServiceError(Code.FAILED_PRECONDITION, `${why} needs storage, but none is configured: set MINIO_ENDPOINT or send the image inline`);
  }
  return ctx.storage;
}

export function checkLocation(loc: { bucket: string; key: string }, field: string): ObjectLocation {
  const bucket = BucketName.safeParse(loc.bucket);
  if (!bucket.success) throw invalidArgument(`${field}.bucket "${loc.bucket}": ${bucket.error.issues[0].message}`);
  const key = ObjectKey.safeParse(loc.key);
  if (!key.success) throw invalidArgument(`${field}.key: ${key.error.issues[0].message}`);
  return { bucket: loc.bucket, key: loc.key };
}

/**
 * Inline bytes are named by their SHA-256, computed when first asked: only a stored output needs
 * it (its key and reuse metadata), and hashing a 12 MB image blocks the event loop for milliseconds
 * that an inline-in, inline-out call (the gateway's raw mode, a fused pipeline's middle steps) has
 * no use for.
 */
function inlineKeySource(data: Buffer): { readonly sha256: string } {
  let sha256: string | undefined;
  return {
    get sha256() {
      return (sha256 ??= sha256Hex(data));
    },
  };
}

export async function loadSource(ctx: ImageContext, source: ImageSource | undefined): Promise<LoadedSource> {
  const started = performance.now();
  if (source?.data !== undefined) {
    if (source.data.length > ctx.maxInputBytes) {
      throw resourceExhausted(`inline image is ${source.data.length} bytes, over the limit of ${ctx.maxInputBytes}`);
    }
    const keySource = inlineKeySource(source.data);
    return {
      data: source.data,
      keySource,
      get version() {
        return keySource.sha256;
      },
      bucket: ctx.defaultBucket,
      isObject: false,
      readMs: 0,
    };
  }
  if (source?.object) {
    const loc = checkLocation({ bucket: source.object.bucket || ctx.defaultBucket, key: source.object.key }, 'source.object');
    const stored = await requireStorage(ctx, 'reading source.object').read(loc, ctx.maxInputBytes);
    return {
      data: stored.data,
      keySource: loc,
      version: stored.etag,
      bucket: loc.bucket,
      isObject: true,
      readMs: performance.now() - started,
    };
  }
  throw invalidArgument('source is required: set source.object (bucket, key) or source.data (bytes)');
}

/**
 * Decides format, destination and delivery. `params` are the operation's parameters; with the
 * format and quality they name the output, so equal requests name the same object.
 */
export function planOutput(
  ctx: ImageContext,
  spec: OutputSpec | undefined,
  src: LoadedSource,
  op: string,
  params: unknown,
  inputFormat: string,
): OutputPlan {
  const quality = spec?.quality ?? 0;
  if (!Number.isInteger(quality) || quality < 0 || quality > 100) {
    throw invalidArgument(`output.quality must be 1..100 (or 0 for the default), got ${quality}`);
  }
  const format = formatName(spec?.format ?? 0, inputFormat);
  const delivery = spec?.delivery ?? OutputDelivery.OUTPUT_DELIVERY_UNSPECIFIED;
  let store: boolean;
  let inline: boolean;
  switch (delivery) {
    case OutputDelivery.OUTPUT_DELIVERY_UNSPECIFIED:
      store = src.isObject || Boolean(spec?.key);
      inline = !store;
      break;
    case OutputDelivery.OUTPUT_DELIVERY_STORE:
      [store, inline] = [true, false];
      break;
    case OutputDelivery.OUTPUT_DELIVERY_INLINE:
      [store, inline] = [false, true];
      break;
    case OutputDelivery.OUTPUT_DELIVERY_STORE_AND_INLINE:
      [store, inline] = [true, true];
      break;
    default:
      throw invalidArgument(`output.delivery ${delivery} is unknown; use STORE, INLINE or STORE_AND_INLINE`);
  }
  const named = { op: params, format, quality };
  let hash: string | undefined;
  let location: ObjectLocation | undefined;
  if (store) {
    const bucket = spec?.bucket || src.bucket;
    const key = spec?.key || deriveOutputKey(src.keySource, op, named, extension(format));
    location = checkLocation({ bucket, key }, 'output');
  }
  return {
    format,
    quality,
    store: location,
    inline,
    // Only stored outputs use it (reuse check, metadata); see inlineKeySource.
    get hash() {
      return (hash ??= paramsHash(src.keySource, op, named));
    },
    reuseExisting: Boolean(spec?.reuseExisting),
  };
}

/** Metadata stored on every output: what it was made from, to validate reuse. */
const SOURCE_VERSION = 'source-version';
const PARAMS_HASH = 'params-hash';

/** The existing output when reuse was asked for and it was made from this input version with these parameters. */
export async function findReusable(ctx: ImageContext, plan: OutputPlan, src: LoadedSource): Promise<OutputImage | undefined> {
  if (!plan.reuseExisting || !plan.store || plan.inline) return undefined;
  const info = await requireStorage(ctx, 'reuse_existing').stat(plan.store);
  if (!info || info.metadata[SOURCE_VERSION] !== src.version || info.metadata[PARAMS_HASH] !== plan.hash) return undefined;
  return {
    object: plan.store,
    data: Buffer.alloc(0),
    width: Number(info.metadata.width ?? 0),
    height: Number(info.metadata.height ?? 0),
    format: formatEnum(plan.format),
    sizeBytes: info.size,
    reused: true,
  };
}

export async function deliver(
  ctx: ImageContext,
  plan: OutputPlan,
  src: LoadedSource,
  encoded: Encoded,
): Promise<{ output: OutputImage; writeMs: number }> {
  const started = performance.now();
  if (plan.store) {
    await requireStorage(ctx, 'writing the output').write(plan.store, encoded.data, contentType(plan.format), {
      [SOURCE_VERSION]: src.version,
      [PARAMS_HASH]: plan.hash,
      width: String(encoded.width),
      height: String(encoded.height),
    });
  }
  return {
    output: {
      object: plan.store,
      data: plan.inline ? encoded.data : Buffer.alloc(0),
      width: encoded.width,
      height: encoded.height,
      format: formatEnum(plan.format),
      sizeBytes: encoded.data.length,
      reused: false,
    },
    writeMs: plan.store ? performance.now() - started : 0,
  };
}
