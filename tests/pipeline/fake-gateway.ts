// An in-process stand-in for the gateway's HTTP API, for compiler tests only: it validates every
// request with the real zod schemas (services/shared/http-api.ts) and names outputs with the real
// key derivation (services/shared/keys.ts), step by step, as the design says the gateway does.
// It decodes no images: sizes are computed, detections come from a table keyed by input key.
import { DetectRequest, FilterRequest, PipelineRequest, ResizeRequest, type Detection } from '../../services/shared/http-api.js';
import { deriveOutputKey } from '../../services/shared/keys.js';
import type { Gateway } from './simulate.js';

const DEFAULT_BUCKET = 'imageflow';
const PERSON: Detection = { classId: 0, label: 'person', confidence: 0.9, box: { x: 1, y: 2, width: 30, height: 60 } };

/** Detections per original input key; derived keys inherit them. */
export function detectionsFor(key: string): Detection[] {
  return key.includes('people') ? [PERSON] : [];
}

interface Image {
  bucket: string;
  key: string;
  /** The original key, to look up detections. */
  origin: string;
  width: number;
  height: number;
}

const ext = (key: string) => /\.([a-z]+)$/.exec(key)?.[1] ?? 'jpg';
const extFor = (format: string | undefined, image: Image) => (!format || format === 'keep' ? ext(image.key) : format === 'jpeg' ? 'jpg' : format);

function optionsOf(body: Record<string, unknown>) {
  const { input: _i, output: _o, op: _op, ...rest } = body;
  return rest;
}

/** Apply one operation; returns the image it yields (unchanged for a detect without boxes). */
function apply(op: string, options: Record<string, any>, image: Image, extension: string): Image {
  if (op === 'detect' && !options.drawBoxes) return image;
  const key = deriveOutputKey({ bucket: image.bucket, key: image.key }, op, options, extension);
  const width = op === 'resize' ? (options.width ?? image.width) : image.width;
  const height = op === 'resize' ? (options.height ?? Math.round((image.height * width) / image.width)) : image.height;
  return { ...image, key, width, height };
}

const output = (image: Image) => ({ bucket: image.bucket, key: image.key, width: image.width, height: image.height, format: 'jpeg', sizeBytes: 1000 });

export function fakeGateway(): Gateway {
  const bad = (message: string) => ({ status: 400, json: { error: { code: 'INVALID_ARGUMENT', message, requestId: 'test' } } });
  return (path, body) => {
    const schema = { '/v1/resize': ResizeRequest, '/v1/filter': FilterRequest, '/v1/detect': DetectRequest, '/v1/pipeline': PipelineRequest }[path];
    if (!schema) return { status: 404, json: { error: { code: 'NOT_FOUND', message: path, requestId: 'test' } } };
    const parsed = schema.safeParse(body);
    if (!parsed.success) return bad(`${path}: ${parsed.error.message}`);
    const input = body.input as { bucket?: string; key: string };
    const source: Image = { bucket: input.bucket ?? DEFAULT_BUCKET, key: input.key, origin: input.key.replace(/^derived\//, ''), width: 4000, height: 3000 };
    const timings = { totalMs: 1 };
    if (path === '/v1/pipeline') {
      if (!(body.steps as Record<string, any>[]).some((st) => st.op !== 'detect' || st.drawBoxes))
        return bad('the pipeline produces no image'); // as the real gateway (services/gateway/pipeline.ts)
      let image = source;
      const steps = (body.steps as Record<string, any>[]).map((step, i, all) => {
        const last = i === all.length - 1;
        image = apply(step.op, optionsOf(step), image, last ? extFor(body.output?.format, image) : ext(image.key));
        const detections = step.op === 'detect' ? detectionsFor(source.origin) : undefined;
        return { op: step.op, width: image.width, height: image.height, ...(detections ? { detections, model: 'fake' } : {}), timings };
      });
      if (body.output?.key) image = { ...image, key: body.output.key };
      return { status: 200, json: { output: output(image), steps, detections: steps.flatMap((s) => s.detections ?? []), timings } };
    }
    const op = path.slice('/v1/'.length);
    let image = apply(op, optionsOf(body), source, extFor(body.output?.format, source));
    if (body.output?.key) image = { ...image, key: body.output.key };
    if (op === 'detect') {
      const json = { detections: detectionsFor(source.origin), model: 'fake', modelVersion: '1', imageWidth: 4000, imageHeight: 3000, timings };
      return { status: 200, json: body.drawBoxes ? { ...json, output: output(image) } : json };
    }
    return { status: 200, json: { output: output(image), timings } };
  };
}
