// Settings only the detection service reads, parsed once at start-up like the shared ones.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { envInt, envOptionalString, envString } from '../shared/config.js';
import { EMBEDDED_RUNTIMES } from './model-runner.js';

export const DEFAULT_REGISTRY_FILE = fileURLToPath(new URL('./models.json', import.meta.url));

export const DetectionEnv = z.object({
  /** Replaces the shipped registry (services/detection/models.json). */
  MODEL_REGISTRY_FILE: envString(DEFAULT_REGISTRY_FILE),
  /** host:port of Triton's gRPC endpoint; adds the Triton model and makes it the default. */
  TRITON_GRPC_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.string().regex(/^[^\s/:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/, 'expected host:port (no scheme), e.g. triton:8001').optional(),
  ),
  /** The model name inside Triton for the model TRITON_GRPC_URL adds. */
  TRITON_MODEL_NAME: envString('yolov8n'),
  /** The model version inside Triton; empty lets Triton choose. */
  TRITON_MODEL_VERSION: envString(''),
  /** Deadline of one ModelInfer call. */
  TRITON_TIMEOUT_MS: envInt(10_000, 100, 600_000),
  /** How often Triton's readiness is checked for the health service. */
  TRITON_HEALTH_INTERVAL_MS: envInt(5_000, 50, 600_000),
  /** What runs the embedded model: onnxruntime (native CPU kernels) or tfjs-wasm. */
  DETECTION_EMBEDDED_RUNTIME: z.preprocess((v) => (v === '' ? undefined : v), z.enum(EMBEDDED_RUNTIMES).default('onnxruntime')),
  /** Threads of one embedded inference; unset: the CPUs the process may use, at most 2. 1 on a saturated machine. */
  DETECTION_MODEL_THREADS: z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(1).max(8).optional()),
  /** Picks the default model by name (overrides the registry's "default"). */
  DETECTION_DEFAULT_MODEL: envOptionalString(),
});
export type DetectionEnv = z.infer<typeof DetectionEnv>;
