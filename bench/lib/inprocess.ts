// The seed pipeline's steps called in-process, with the same code the services run (openImage,
// applyResize, applyFilters, encodeAs, the Detector over the embedded model) but no gRPC, no
// HTTP and no storage: the floor every other way of running them is compared with.
import { createLogger } from '../../services/shared/logger.js';
import { encodeAs, keepFormat, openImage, readHeader, type CodecSettings } from '../../services/shared/image-codec.js';
import { applyResize } from '../../services/resize/resize.js';
import { applyFilters } from '../../services/filter/filter.js';
import type { FilterStep, ResizeParams } from '../../services/shared/operation-params.js';
import { Detector } from '../../services/detection/detector.js';
import { EmbeddedBackend } from '../../services/detection/embedded-backend.js';
import { DEFAULT_REGISTRY_FILE, DetectionEnv } from '../../services/detection/env.js';
import { loadModelRegistry } from '../../services/detection/model-registry.js';
import type { Candidate } from '../../services/detection/nms.js';

export const CODEC: CodecSettings = { limitInputPixels: 50_000_000 };

/** The seed pipeline (pipelines/resize-detect-filter.ts) with its defaults. */
export const SEED = {
  resize: { width: 1024, fit: 'inside', withoutEnlargement: true } satisfies ResizeParams,
  detect: { confidenceThreshold: 0.4, iouThreshold: 0.45, maxDetections: 100 },
  filter: [{ type: 'sharpen', intensity: 1.2 }] satisfies FilterStep[],
} as const;

export async function resizeInProcess(data: Buffer, params: ResizeParams = SEED.resize): Promise<Buffer> {
  const header = await readHeader(data, CODEC);
  return encodeAs(applyResize(openImage(data, CODEC), params), keepFormat(header.format), 0).toBuffer();
}

export async function filterInProcess(data: Buffer, steps: readonly FilterStep[] = SEED.filter): Promise<Buffer> {
  const header = await readHeader(data, CODEC);
  const image = await applyFilters(openImage(data, CODEC), steps);
  return encodeAs(image, keepFormat(header.format), 0).toBuffer();
}

export interface InProcessDetector {
  detect(data: Buffer): Promise<Candidate[]>;
  close(): Promise<void>;
}

/** The default model of the shipped registry, loaded (and warmed up) in a worker of this process. */
export async function startDetector(): Promise<InProcessDetector> {
  // The service's settings from this environment (the runtime, threads), with the shipped registry.
  const env = DetectionEnv.parse({ ...process.env, MODEL_REGISTRY_FILE: DEFAULT_REGISTRY_FILE, TRITON_GRPC_URL: '' });
  const spec = loadModelRegistry(env).resolve('');
  if (spec.backend !== 'embedded') throw new Error(`default model ${spec.name} is not embedded`);
  const backend = new EmbeddedBackend(spec, createLogger('bench-detector', 'warn'), { runtime: env.DETECTION_EMBEDDED_RUNTIME, threads: env.DETECTION_MODEL_THREADS });
  await backend.firstReady;
  const detector = new Detector(spec, backend);
  return {
    async detect(data) {
      const header = await readHeader(data, CODEC);
      const run = await detector.run(data, header, CODEC, { ...SEED.detect, classIds: undefined }, { timeoutMs: 30_000, requestId: 'bench' });
      return run.detections;
    },
    close: () => backend.close(),
  };
}

/** resize → detect → filter, in-process; the detect step passes its input image on. */
export async function seedPipelineInProcess(detector: InProcessDetector, data: Buffer): Promise<{ image: Buffer; detections: number }> {
  const resized = await resizeInProcess(data);
  const found = await detector.detect(resized);
  const image = await filterInProcess(resized);
  return { image, detections: found.length };
}
