// The Detect call, independent of gRPC: validate, load the image, run the model, optionally draw
// the boxes and deliver the annotated image (deterministic key, op "detect") with its sidecar.
import type { DetectRequest, DetectResponse, Detection, DetectionTimings } from '../shared/gen/imageflow/v1/ai_detection.js';
import { deadlineExceeded, imageError } from '../shared/errors.js';
import { readHeader } from '../shared/image-codec.js';
import { serviceMetrics } from '../shared/metrics.js';
import { type ImageContext, deliver, findReusable, loadSource, planOutput, requireStorage } from '../shared/image-io.js';
import { classIdFilter, detectParams } from './detect-params.js';
import type { Detector } from './detector.js';
import { drawDetections } from './draw-boxes.js';
import type { ModelRegistry } from './model-registry.js';
import type { Candidate } from './nms.js';
import { readSidecar, sidecarDetections, sidecarLocation, writeSidecar } from './sidecar.js';

export interface DetectDeps {
  readonly images: ImageContext;
  readonly registry: ModelRegistry;
  readonly detectors: ReadonlyMap<string, Detector>;
}

/** Boxes are reported to a tenth of a pixel. */
const tenth = (v: number) => Math.round(v * 10) / 10;

function toDetection(c: Candidate, labels: readonly string[]): Detection {
  return {
    classId: c.classId,
    label: labels[c.classId],
    confidence: Math.round(c.score * 1e4) / 1e4,
    box: { x: tenth(c.x1), y: tenth(c.y1), width: tenth(c.x2 - c.x1), height: tenth(c.y2 - c.y1) },
  };
}

export interface DetectCall {
  readonly requestId: string;
  /** The caller's time left (Infinity without a deadline). */
  readonly remainingMs: () => number;
}

export async function detect(deps: DetectDeps, req: DetectRequest, call: DetectCall): Promise<DetectResponse> {
  const started = performance.now();
  const { images } = deps;
  const spec = deps.registry.resolve(req.model);
  const detector = deps.detectors.get(spec.name)!;
  const params = detectParams(req, spec);
  const src = await loadSource(images, req.source);
  const t0 = performance.now();
  const header = await readHeader(src.data, images.codec);
  const timings: DetectionTimings = { readMs: src.readMs, decodeMs: performance.now() - t0, preprocessMs: 0, inferenceMs: 0, postprocessMs: 0, drawMs: 0, writeMs: 0, totalMs: 0 };
  const response = (r: Omit<DetectResponse, 'model' | 'modelVersion' | 'imageWidth' | 'imageHeight' | 'timings'>): DetectResponse => ({
    model: spec.name,
    modelVersion: spec.version,
    imageWidth: header.width,
    imageHeight: header.height,
    ...r,
    timings: { ...timings, totalMs: performance.now() - started },
  });

  const plan = req.drawBoxes ? planOutput(images, req.output, src, 'detect', params, header.format) : undefined;
  if (plan?.store) {
    // reuse_existing: an annotated image made from this input version with these parameters
    // comes back with the detections its sidecar recorded, without running the model.
    const reused = await findReusable(images, plan, src);
    const sidecar = reused && (await readSidecar(requireStorage(images, 'reuse_existing'), plan.store));
    if (reused && sidecar) {
      return response({ detections: sidecar.detections.map((d) => ({ ...d })), annotated: reused, sidecar: sidecarLocation(plan.store) });
    }
  }

  // A call that waited in the queue past its deadline must not take the model's time.
  if (call.remainingMs() <= 0) throw deadlineExceeded('the call\'s deadline passed before inference started');
  const run = await detector.run(
    src.data,
    header,
    images.codec,
    { confidenceThreshold: params.confidenceThreshold, iouThreshold: params.iouThreshold, maxDetections: params.maxDetections, classIds: classIdFilter(params, spec) },
    { timeoutMs: call.remainingMs(), requestId: call.requestId },
  );
  Object.assign(timings, { preprocessMs: run.preprocessMs, inferenceMs: run.inferenceMs, postprocessMs: run.postprocessMs });
  const detections = run.detections.map((c) => toDetection(c, spec.labels));
  if (!plan) {
    serviceMetrics().recordImage('detect', src.data.length, 0);
    return response({ detections });
  }

  const t1 = performance.now();
  let encoded;
  try {
    encoded = await drawDetections(src.data, images.codec, detections, plan.format, plan.quality);
  } catch (err) {
    throw imageError(err);
  }
  timings.drawMs = performance.now() - t1;
  const t2 = performance.now();
  // Sidecar first: once the annotated image is visible, its sidecar is too.
  const sidecar = plan.store
    ? await writeSidecar(requireStorage(images, 'writing the sidecar'), {
        model: spec.name,
        modelVersion: spec.version,
        image: { width: header.width, height: header.height },
        source: src.keySource,
        annotated: plan.store,
        parameters: params,
        detections: sidecarDetections(detections),
      })
    : undefined;
  const { output } = await deliver(images, plan, src, encoded);
  serviceMetrics().recordImage('detect', src.data.length, encoded.data.length);
  timings.writeMs = plan.store ? performance.now() - t2 : 0;
  return response({ detections, annotated: output, sidecar });
}
