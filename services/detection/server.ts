// The AiDetectionService: the model registry, one Detector per model, Detect and ListModels, and
// the service's health = every registered model ready (the embedded one loaded and warmed up,
// Triton's answering ModelReady).
import {
  AiDetectionServiceService,
  type DetectRequest,
  type DetectResponse,
  type ListModelsRequest,
  type ListModelsResponse,
} from '../shared/gen/imageflow/v1/ai_detection.js';
import { unary, type ServiceRegistration } from '../shared/grpc-server.js';
import type { ServiceParts } from '../shared/service-process.js';
import { detect } from './detect.js';
import { Detector } from './detector.js';
import { EmbeddedBackend } from './embedded-backend.js';
import type { DetectionEnv } from './env.js';
import type { HealthRelay } from './health-relay.js';
import { loadModelRegistry } from './model-registry.js';
import { TritonBackend } from './triton-backend.js';

export interface DetectionService {
  readonly services: ServiceRegistration[];
  /** Resolves when every model is ready for the first time. */
  readonly ready: Promise<void>;
  readonly close: () => Promise<void>;
}

export async function createDetectionService(parts: ServiceParts, env: DetectionEnv, health: HealthRelay): Promise<DetectionService> {
  const { logger, limiter, images } = parts;
  const registry = loadModelRegistry(env);
  const detectors = new Map(
    registry.models.map((spec) => [
      spec.name,
      new Detector(
        spec,
        spec.backend === 'embedded'
          ? new EmbeddedBackend(spec, logger, { runtime: env.DETECTION_EMBEDDED_RUNTIME, threads: env.DETECTION_MODEL_THREADS })
          : new TritonBackend(spec, { timeoutMs: env.TRITON_TIMEOUT_MS, healthIntervalMs: env.TRITON_HEALTH_INTERVAL_MS }, logger),
      ),
    ]),
  );
  const backends = [...detectors.values()].map((d) => d.backend);
  for (const b of backends) b.onReadyChange(() => health.set(backends.every((x) => x.ready) ? 'SERVING' : 'NOT_SERVING'));
  logger.info({ models: registry.models.map((m) => `${m.name} (${m.backend})`), default: registry.defaultName }, 'model registry loaded');

  const implementation = {
    detect: unary<DetectRequest, DetectResponse>('Detect', { logger, limiter }, (req, ctx) =>
      detect({ images, registry, detectors }, req, ctx),
    ),
    listModels: unary<ListModelsRequest, ListModelsResponse>('ListModels', { logger }, async () => ({
      models: registry.models.map((m) => ({
        name: m.name,
        backend: m.backend,
        version: m.version,
        inputWidth: m.inputWidth,
        inputHeight: m.inputHeight,
        decoder: m.decoder,
        labels: [...m.labels],
        isDefault: m.name === registry.defaultName,
        ready: detectors.get(m.name)!.backend.ready,
      })),
    })),
  };
  return {
    services: [{ definition: AiDetectionServiceService, implementation, healthName: 'imageflow.v1.AiDetectionService' }],
    ready: Promise.all(backends.map((b) => b.firstReady)).then(() => undefined),
    close: async () => {
      await Promise.all(backends.map((b) => b.close()));
    },
  };
}
