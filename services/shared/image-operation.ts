// The one flow every pixel-transforming call follows: load the source, read its header, plan the
// output, reuse or transform + encode, deliver. Services supply only the transform.
import type { OutputInfo, Sharp } from 'sharp';
import type { ImageSource, OutputImage, OutputSpec, Timings } from './gen/imageflow/v1/common.js';
import { imageError } from './errors.js';
import { encodeAs, openImage, readHeader, type DecodedHeader } from './image-codec.js';
import { type ImageContext, deliver, findReusable, loadSource, planOutput } from './image-io.js';
import { serviceMetrics } from './metrics.js';
import { withSpan } from './tracing.js';

export interface ImageOperation {
  /** Names the operation in derived keys (resize, filter, ...). */
  readonly op: string;
  readonly source: ImageSource | undefined;
  readonly output: OutputSpec | undefined;
  /** Validated parameters; they name the output. */
  readonly params: unknown;
  /** Builds the transformed image from the upright input. May return raw or encoded pipelines. */
  readonly transform: (data: Buffer, header: DecodedHeader) => Promise<Sharp> | Sharp;
  /**
   * Pixels the transform decodes, for the pixel budget (ImageContext.pixels).
   * @default the header's width × height
   */
  readonly decodedPixels?: (header: DecodedHeader) => number;
  /**
   * Pixels of the output, estimated before encoding (it picks the JPEG encoder's mode).
   * @default the header's width × height
   */
  readonly outputPixels?: (header: DecodedHeader) => number;
  /** Milliseconds left before the caller's deadline; a call waiting for pixels gives up then. */
  readonly remainingMs?: () => number;
}

export async function runImageOperation(ctx: ImageContext, operation: ImageOperation): Promise<{ output: OutputImage; timings: Timings }> {
  const started = performance.now();
  const src = await loadSource(ctx, operation.source);
  const t0 = performance.now();
  const header = await readHeader(src.data, ctx.codec);
  const decodeMs = performance.now() - t0;
  const plan = planOutput(ctx, operation.output, src, operation.op, operation.params, header.format);
  const reused = await findReusable(ctx, plan, src);
  if (reused) {
    serviceMetrics().recordImage(operation.op, src.data.length, 0);
    return { output: reused, timings: timings(started, { readMs: src.readMs, decodeMs }) };
  }
  // Decoding starts here: wait until the pixels fit the budget, give them back once encoded.
  const releasePixels = await ctx.pixels?.acquire(operation.decodedPixels?.(header) ?? header.width * header.height, {
    remainingMs: operation.remainingMs,
  });
  const t1 = performance.now();
  const encoded = await withSpan(`image ${operation.op}`, { attributes: { 'imageflow.format': plan.format } }, async (span) => {
    try {
      const image = await operation.transform(src.data, header);
      const outputPixels = operation.outputPixels?.(header) ?? header.width * header.height;
      const result: { data: Buffer; info: OutputInfo } = await boundedEncoder(encodeAs(image, plan.format, plan.quality), plan.format, outputPixels).toBuffer({
        resolveWithObject: true,
      });
      span.setAttributes({ 'imageflow.bytes_in': src.data.length, 'imageflow.bytes_out': result.data.length });
      return result;
    } catch (err) {
      throw imageError(err);
    } finally {
      releasePixels?.();
    }
  });
  serviceMetrics().recordImage(operation.op, src.data.length, encoded.data.length);
  const processMs = performance.now() - t1;
  const { output, writeMs } = await deliver(ctx, plan, src, {
    data: encoded.data,
    width: encoded.info.width,
    height: encoded.info.height,
  });
  return {
    output,
    timings: timings(started, { readMs: src.readMs, decodeMs, processMs, writeMs }),
  };
}

/**
 * Past this many output pixels a JPEG is written in one pass. Huffman-table optimisation (sharp's
 * default) keeps the DCT coefficients of the whole image until the end: measured on a 24 MP
 * JPEG → JPEG, 150 MB at the peak instead of 25 MB, for a file about 10% smaller. Smaller
 * outputs, the usual web sizes, keep the optimised tables.
 */
export const ONE_PASS_JPEG_PIXELS = 4_000_000;

function boundedEncoder(encoder: Sharp, format: string, outputPixels: number): Sharp {
  return format === 'jpeg' && outputPixels > ONE_PASS_JPEG_PIXELS ? encoder.jpeg({ optimiseCoding: false }) : encoder;
}

function timings(started: number, t: Partial<Timings>): Timings {
  return { readMs: 0, decodeMs: 0, processMs: 0, encodeMs: 0, writeMs: 0, ...t, totalMs: performance.now() - started };
}
