// /v1/pipeline: run resize/filter/detect steps in order in one request, passing the image from
// step to step in memory (delivery INLINE), and letting the service of the last image-producing
// step write the final output itself (delivery STORE) under the key the unfused chain of calls
// would have produced. The gateway never touches storage: the final bytes go service → S3 once.
//
// Keys follow the unfused chain, as if every step had been its own call with default output
// options (input's bucket, same format, default quality) and the last one with `output`:
//   photos/cat.jpg → derived/photos/cat/resize-<h1>.jpg → derived/photos/cat/resize-<h1>/filter-<h2>.jpg
// The gateway derives each intermediate key with deriveOutputKey from the same canonical
// parameters the services use (services/shared/operation-params.ts), without storing it.
// One exception: detection's canonical parameters depend on its model registry, so the image a
// detect step with drawBoxes annotates is stored first (under its derived key) and the detect
// step reads it as an object: the detection service then names the annotated image and its
// sidecar exactly as in the unfused chain.
import { ImageFormat, OutputDelivery, type ImageSource, type OutputImage, type OutputSpec } from '../shared/gen/imageflow/v1/common.js';
import type { DetectResponse as DetectMessageResponse } from '../shared/gen/imageflow/v1/ai_detection.js';
import type { Detection, PipelineRequest, PipelineResponse, PipelineStep } from '../shared/http-api.js';
import { type KeySource, deriveOutputKey, sha256Hex } from '../shared/keys.js';
import { filterSteps, resizeParams, type FilterStep, type ResizeParams } from '../shared/operation-params.js';
import { badRequest } from './errors.js';
import {
  type FormatName,
  detectMessage,
  detections as detectionsOf,
  filterOperations,
  formatName,
  imageSource,
  outputResult,
  outputSpec,
  resizeMessage,
  timingsRecord,
} from './messages.js';
import { type CallContext, type Upstreams, requireUpstream } from './upstreams.js';

export interface PipelineDeps {
  readonly upstreams: Upstreams;
  readonly defaultBucket: string;
  /** Per-call deadlines (ms); each is also capped by the pipeline's own deadline. */
  readonly deadlinesMs: { readonly resize: number; readonly filter: number; readonly detect: number };
}

/** The image between steps. */
type Current =
  /** The pipeline's input object, not read by the gateway: services read it themselves. */
  | { readonly kind: 'object'; readonly bucket: string; readonly key: string }
  /** The pipeline's inline input. */
  | { readonly kind: 'inline'; readonly data: Buffer; readonly bucket: string }
  /** A step's result, in memory; `key` is where the unfused chain would have stored it. */
  | {
      readonly kind: 'memory';
      readonly data: Buffer;
      readonly format: FormatName;
      readonly bucket: string;
      readonly key: string;
      /** Written to storage at bucket/key (for a following detect step with drawBoxes). */
      readonly stored: boolean;
    };

type Planned =
  | { readonly step: Extract<PipelineStep, { op: 'resize' }>; readonly params: ResizeParams }
  | { readonly step: Extract<PipelineStep, { op: 'filter' }>; readonly params: FilterStep[] }
  | { readonly step: Extract<PipelineStep, { op: 'detect' }>; readonly params?: undefined };

const producesImage = (step: PipelineStep) => step.op !== 'detect' || step.drawBoxes === true;
const extension = (f: FormatName) => (f === 'jpeg' ? 'jpg' : f);

function keySource(cur: Current): KeySource {
  switch (cur.kind) {
    case 'object':
      return { bucket: cur.bucket, key: cur.key };
    case 'inline':
      return { sha256: sha256Hex(cur.data) };
    case 'memory':
      return { bucket: cur.bucket, key: cur.key };
  }
}

/** Images in memory travel inline, unless `preferObject` and they are also stored. */
const sourceOf = (cur: Current, preferObject = false): ImageSource =>
  cur.kind === 'object' || (preferObject && cur.kind === 'memory' && cur.stored)
    ? { object: { bucket: cur.bucket, key: cur.key } }
    : { data: cur.data };

/** Validates every step (shared canonical parameters) before any call is made. */
function plan(steps: readonly PipelineStep[]): Planned[] {
  return steps.map((step, i) => {
    try {
      switch (step.op) {
        case 'resize':
          return { step, params: resizeParams(resizeMessage(step, {}, outputSpec(undefined, OutputDelivery.OUTPUT_DELIVERY_INLINE))) };
        case 'filter':
          return { step, params: filterSteps(filterOperations(step.ops)) };
        case 'detect':
          return { step };
      }
    } catch (err) {
      throw badRequest(`steps[${i}] (${step.op}): ${(err as Error).message}`);
    }
  });
}

export async function runPipeline(deps: PipelineDeps, request: PipelineRequest, ctx: CallContext): Promise<PipelineResponse> {
  const started = performance.now();
  const planned = plan(request.steps);
  const lastProducer = request.steps.findLastIndex(producesImage);
  /** True when the next image-producing step after i is a detect step with drawBoxes. */
  const drawnDetectReadsNext = (i: number) => {
    const next = request.steps.findIndex((s, j) => j > i && producesImage(s));
    return next >= 0 && request.steps[next].op === 'detect';
  };
  if (lastProducer < 0) {
    throw badRequest('the pipeline produces no image: add a resize, filter or detect step with drawBoxes (for detections alone call /v1/detect)');
  }
  const source = imageSource(request.input, deps.defaultBucket);
  let cur: Current = source.object
    ? { kind: 'object', bucket: source.object.bucket, key: source.object.key }
    : { kind: 'inline', data: source.data!, bucket: deps.defaultBucket };

  const steps: PipelineResponse['steps'] = [];
  const allDetections: Detection[] = [];
  let final: OutputImage | undefined;
  let sidecar: PipelineResponse['sidecar'];
  let upstreamMs = 0;
  const deadlineFor = (ms: number): CallContext => ({ ...ctx, deadline: Math.min(ctx.deadline, Date.now() + ms) });
  /**
   * A detect step without drawBoxes passes its input on unchanged, so the steps after it need
   * nothing from it: its call runs alongside them (on another core) and is awaited at the end.
   */
  const pending: Array<Promise<void>> = [];

  for (const [i, p] of planned.entries()) {
    const isFinal = i === lastProducer;
    const laterSteps = i < planned.length - 1;
    /**
     * Intermediates come back inline in the default format (also stored when a drawn detect
     * step reads them next); the final one is stored (and also returned for later detect steps).
     */
    const spec = (op: string, params: unknown): OutputSpec => {
      let s: OutputSpec;
      if (isFinal) {
        s = outputSpec(request.output, laterSteps ? OutputDelivery.OUTPUT_DELIVERY_STORE_AND_INLINE : OutputDelivery.OUTPUT_DELIVERY_STORE);
      } else if (drawnDetectReadsNext(i)) {
        s = outputSpec(undefined, OutputDelivery.OUTPUT_DELIVERY_STORE_AND_INLINE);
      } else {
        return outputSpec(undefined, OutputDelivery.OUTPUT_DELIVERY_INLINE);
      }
      // Unfused, a step's output goes to its input's bucket; a service given inline bytes would
      // pick its default bucket instead, so name the bucket of the lineage.
      if (!s.bucket) s.bucket = cur.bucket;
      // From an original input the service derives the same key the unfused call would; from
      // an image in memory only the gateway knows the lineage, so it names the key.
      if (!s.key && cur.kind === 'memory' && params !== undefined) {
        const format = s.format === ImageFormat.IMAGE_FORMAT_UNSPECIFIED ? cur.format : formatName(s.format);
        s.key = deriveOutputKey(keySource(cur), op, { op: params, format, quality: s.quality }, extension(format));
      }
      return s;
    };
    /** Where the unfused chain would have put this step's result (stored or not). */
    const advance = (op: string, params: unknown, image: OutputImage) => {
      const format = formatName(image.format);
      const key = image.object?.key ?? deriveOutputKey(keySource(cur), op, { op: params, format, quality: 0 }, extension(format));
      cur = { kind: 'memory', data: image.data, format, bucket: image.object?.bucket ?? cur.bucket, key, stored: Boolean(image.object?.key) };
    };
    const t0 = performance.now();
    let image: OutputImage | undefined;
    switch (p.step.op) {
      case 'resize': {
        const msg = resizeMessage(p.step, sourceOf(cur), spec('resize', p.params));
        const res = await requireUpstream(deps.upstreams, 'resize').call('resize', msg, deadlineFor(deps.deadlinesMs.resize));
        image = res.output!;
        steps.push({ op: 'resize', width: image.width, height: image.height, timings: timingsRecord(res.timings, { upstreamMs: performance.now() - t0 }) });
        if (isFinal) final = image;
        if (laterSteps) advance('resize', p.params, image);
        break;
      }
      case 'filter': {
        const msg = { source: sourceOf(cur), operations: filterOperations(p.step.ops), output: spec('filter', p.params) };
        const res = await requireUpstream(deps.upstreams, 'filter').call('filter', msg, deadlineFor(deps.deadlinesMs.filter));
        image = res.output!;
        steps.push({ op: 'filter', width: image.width, height: image.height, timings: timingsRecord(res.timings, { upstreamMs: performance.now() - t0 }) });
        if (isFinal) final = image;
        if (laterSteps) advance('filter', p.params, image);
        break;
      }
      case 'detect': {
        const draw = p.step.drawBoxes === true;
        if (!draw && laterSteps) {
          const at = steps.length;
          steps.push(undefined as unknown as PipelineResponse['steps'][number]); // filled in below, in step order
          const msg = detectMessage(p.step, sourceOf(cur), undefined);
          const call = requireUpstream(deps.upstreams, 'detection')
            .call('detect', msg, deadlineFor(deps.deadlinesMs.detect))
            .then((res: DetectMessageResponse) => {
              steps[at] = {
                op: 'detect',
                width: res.imageWidth,
                height: res.imageHeight,
                detections: detectionsOf(res),
                model: res.model,
                timings: timingsRecord(res.timings, { upstreamMs: performance.now() - t0 }),
              };
            });
          call.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
          pending.push(call);
          break;
        }
        // A drawn intermediate is stored with its sidecar (the service names both) and passed on.
        const output = draw
          ? isFinal
            ? spec('detect', undefined)
            : outputSpec(undefined, OutputDelivery.OUTPUT_DELIVERY_STORE_AND_INLINE)
          : undefined;
        const msg = detectMessage(p.step, sourceOf(cur, draw), output);
        const res: DetectMessageResponse = await requireUpstream(deps.upstreams, 'detection').call('detect', msg, deadlineFor(deps.deadlinesMs.detect));
        const found = detectionsOf(res);
        allDetections.push(...found);
        if (res.sidecar?.key) sidecar = { bucket: res.sidecar.bucket, key: res.sidecar.key };
        steps.push({
          op: 'detect',
          width: res.imageWidth,
          height: res.imageHeight,
          detections: found,
          model: res.model,
          timings: timingsRecord(res.timings, { upstreamMs: performance.now() - t0 }),
        });
        if (draw && res.annotated) {
          image = res.annotated;
          if (isFinal) final = image;
          if (laterSteps) advance('detect', undefined, image);
        }
        break;
      }
    }
    upstreamMs += performance.now() - t0;
  }
  if (pending.length) {
    const t0 = performance.now();
    await Promise.all(pending);
    upstreamMs += performance.now() - t0;
    // In step order, as if every step had run one after another.
    allDetections.length = 0;
    for (const s of steps) if (s.detections) allDetections.push(...s.detections);
  }
  if (!final) throw new Error('pipeline ended without a final image');
  return {
    output: outputResult(final),
    steps,
    detections: allDetections,
    ...(sidecar ? { sidecar } : {}),
    timings: timingsRecord(undefined, { upstreamMs, gatewayMs: performance.now() - started - upstreamMs, totalMs: performance.now() - started }),
  };
}

