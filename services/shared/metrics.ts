// Prometheus metrics of a gRPC image service (prom-client). One registry per process, created on
// first use, so the shared code (unary wrapper, storage, image flow) records without any service
// having to pass a metrics object around. The gateway has its own registry (services/gateway).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import sharp from 'sharp';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const SIZE_BUCKETS = [1_024, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864];
const MIB = 1024 * 1024;

export class ServiceMetrics {
  readonly registry = new Registry();

  /** Per call, by full method and status code name (OK, INVALID_ARGUMENT, ...). */
  readonly callDuration = new Histogram({
    name: 'imageflow_grpc_server_handling_seconds',
    help: 'gRPC call duration by method and status code, queueing in the limiter included',
    labelNames: ['method', 'code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly calls = new Counter({
    name: 'imageflow_grpc_server_handled_total',
    help: 'gRPC calls completed, by method and status code',
    labelNames: ['method', 'code'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'imageflow_grpc_server_in_flight_calls',
    help: 'gRPC calls being handled (running or queued in the limiter)',
    labelNames: ['method'] as const,
    registers: [this.registry],
  });
  readonly imageBytes = new Counter({
    name: 'imageflow_image_bytes_total',
    help: 'Encoded image bytes read (in) and produced (out), by operation',
    labelNames: ['op', 'direction'] as const,
    registers: [this.registry],
  });
  readonly imageSize = new Histogram({
    name: 'imageflow_image_size_bytes',
    help: 'Encoded image size per call, by operation and direction',
    labelNames: ['op', 'direction'] as const,
    buckets: SIZE_BUCKETS,
    registers: [this.registry],
  });
  readonly storageDuration = new Histogram({
    name: 'imageflow_storage_operation_seconds',
    help: 'S3 storage call duration by operation (read, write, stat, ...) and outcome (ok or a status code)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inferenceDuration = new Histogram({
    name: 'imageflow_model_inference_seconds',
    help: 'Model inference time (the backend call only), by model, backend and outcome',
    labelNames: ['model', 'backend', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    // process_resident_memory_bytes, heap, event loop lag, GC: the RSS trend is what the soak watches.
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'imageflow_' });
    const registers = [this.registry];
    new Gauge({
      name: 'imageflow_libvips_tracked_memory_bytes',
      help: 'Memory libvips tracks for pixel buffers (sharp.cache(), MiB resolution)',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const { memory } = sharp.cache();
        this.set({ kind: 'current' }, memory.current * MIB);
        this.set({ kind: 'high' }, memory.high * MIB);
      },
    });
    new Gauge({
      name: 'imageflow_sharp_tasks',
      help: 'sharp tasks queued for a libuv thread and being processed (sharp.counters())',
      labelNames: ['state'] as const,
      registers,
      collect() {
        const c = sharp.counters();
        this.set({ state: 'queued' }, c.queue);
        this.set({ state: 'processing' }, c.process);
      },
    });
    new Gauge({
      name: 'imageflow_libvips_threads_per_image',
      help: 'libvips worker threads one image uses (sharp.concurrency(), SHARP_CONCURRENCY)',
      registers,
      collect() {
        this.set(sharp.concurrency());
      },
    });
    new Gauge({
      name: 'imageflow_process_memory_bytes',
      help: 'process.memoryUsage() by kind (rss, heapUsed, external, arrayBuffers)',
      labelNames: ['kind'] as const,
      registers,
      collect() {
        const m = process.memoryUsage();
        for (const kind of ['rss', 'heapUsed', 'external', 'arrayBuffers'] as const) this.set({ kind }, m[kind]);
      },
    });
  }

  /** Exposes a limiter's running/queued counts (back-pressure) at scrape time. */
  trackLimiter(limiter: { readonly inFlight: number; readonly queued: number; readonly maxActive: number; readonly maxQueued: number; readonly bytesInUse?: number }): void {
    new Gauge({
      name: 'imageflow_limiter_inflight_request_bytes',
      help: 'Inline image bytes held by running and queued calls (bounded by MAX_INFLIGHT_REQUEST_BYTES)',
      registers: [this.registry],
      collect() {
        this.set(limiter.bytesInUse ?? 0);
      },
    });
    new Gauge({
      name: 'imageflow_limiter_calls',
      help: 'Calls in the concurrency limiter: running, queued, and the configured maxima',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.set({ state: 'running' }, limiter.inFlight);
        this.set({ state: 'queued' }, limiter.queued);
        this.set({ state: 'max_running' }, limiter.maxActive);
        this.set({ state: 'max_queued' }, limiter.maxQueued);
      },
    });
  }

  recordImage(op: string, bytesIn: number, bytesOut: number): void {
    this.imageBytes.inc({ op, direction: 'in' }, bytesIn);
    this.imageSize.observe({ op, direction: 'in' }, bytesIn);
    if (bytesOut > 0) {
      this.imageBytes.inc({ op, direction: 'out' }, bytesOut);
      this.imageSize.observe({ op, direction: 'out' }, bytesOut);
    }
  }

  /** Times a model inference; for the detection service's backends. */
  async timeInference<T>(model: string, backend: string, fn: () => Promise<T>): Promise<T> {
    const end = this.inferenceDuration.startTimer({ model, backend });
    try {
      const result = await fn();
      end({ outcome: 'ok' });
      return result;
    } catch (err) {
      end({ outcome: 'error' });
      throw err;
    }
  }
}

let current: ServiceMetrics | undefined;

/** The process's metrics; created (with default process metrics) on first use. */
export function serviceMetrics(): ServiceMetrics {
  current ??= new ServiceMetrics();
  return current;
}

/** Creates the process's metrics with the service label; call once at start-up, before serving. */
export function initServiceMetrics(service: string): ServiceMetrics {
  const metrics = serviceMetrics();
  // Applied at scrape time, so metrics registered before this call get the label too.
  metrics.registry.setDefaultLabels({ service });
  return metrics;
}
