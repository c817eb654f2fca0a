// Turns an environment into a running service process: config, logger, storage, libvips
// settings, the gRPC server and signal handling. Each services/<name>/main.ts is a few lines.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError, envBool, envInt, envOptionalString, envPort, parseEnv, serviceEnvShape } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { Storage } from './storage.js';
import { SHARP_DEFAULTS, configureSharp } from './image-codec.js';
import type { ImageContext } from './image-io.js';
import { GrpcServerHost, type ServiceRegistration, type TlsFiles } from './grpc-server.js';
import { Gauge, type Registry } from 'prom-client';
import { BufferPool } from './buffer-pool.js';
import { observeBufferPool } from './buffer-pool-metrics.js';
import { Limiter } from './limiter.js';
import { PixelBudget } from './pixel-budget.js';
import { initServiceMetrics } from './metrics.js';
import { startMetricsServer } from './metrics-server.js';
import { initTracing, type Tracing } from './tracing.js';

export const imageServiceEnvShape = {
  ...serviceEnvShape,
  MAX_INPUT_BYTES: envInt(64 * 1024 * 1024, 1),
  ALLOW_SVG_INPUT: envBool(false),
  /** Calls processed at once (0: max(2, callsPerCore × cores)); more wait in a queue of MAX_QUEUED, beyond that "busy". */
  MAX_CONCURRENT_CALLS: envInt(0, 0, 1024),
  MAX_QUEUED_CALLS: envInt(64, 0, 100_000),
  /**
   * Pixels (width × height from the header) decoded at once by running calls; a call whose image
   * does not fit waits (first come, first served) until it does. One image larger than the budget
   * runs alone. 0 = no bound. 32 MP: one 24 MP or two 12 MP photos, many small ones.
   */
  MAX_INFLIGHT_PIXELS: envInt(32_000_000, 0),
  /** Inline image bytes held by running + queued calls; past it, calls are "busy". 0 = no bound. */
  MAX_INFLIGHT_REQUEST_BYTES: envInt(256 * 1024 * 1024, 0),
  /** HTTP/2 streams one client connection may have open; 0 = grpc-js default (unbounded). */
  GRPC_MAX_CONCURRENT_STREAMS: envInt(0, 0, 100_000),
  /** Unary image calls straight from the HTTP/2 streams instead of through grpc-js' call path (grpc-fast-unary.ts). */
  GRPC_FAST_UNARY: envBool(true),
  /**
   * libvips threads per image; calls run side by side up to MAX_CONCURRENT_CALLS. Set here, not
   * left to sharp: sharp's default is 1 under glibc only while MALLOC_ARENA_MAX is unset, which
   * the containers set, and otherwise one per CPU of the node, whatever the container's CPU
   * limit (BENCHMARKS.md finding 31). 0 = that one-per-CPU count.
   */
  SHARP_CONCURRENCY: envInt(SHARP_DEFAULTS.concurrency, 0, 64),
  SHARP_CACHE_MB: envInt(SHARP_DEFAULTS.cacheMemoryMb, 0, 4096),
  GRPC_TLS_CERT_FILE: envOptionalString(),
  GRPC_TLS_KEY_FILE: envOptionalString(),
  GRPC_TLS_CA_FILE: envOptionalString(),
  /** Prometheus /metrics on this port (same host as gRPC); 0 picks a free one. */
  METRICS_PORT: envPort(9464),
};
/** Request-message memory a service keeps for reuse at most (grpc-fast-unary.ts). */
const MESSAGE_POOL_BYTES = 64 * 1024 * 1024;

export const ImageServiceEnv = z.object(imageServiceEnvShape);
export type ImageServiceEnv = z.infer<typeof ImageServiceEnv>;

export function storageFromEnv(env: ImageServiceEnv): Storage | undefined {
  if (!env.MINIO_ENDPOINT) return undefined;
  if (!env.MINIO_ACCESS_KEY || !env.MINIO_SECRET_KEY) {
    throw new ConfigError('invalid configuration:\n  MINIO_ACCESS_KEY and MINIO_SECRET_KEY are required when MINIO_ENDPOINT is set');
  }
  return new Storage({
    endpoint: env.MINIO_ENDPOINT,
    accessKey: env.MINIO_ACCESS_KEY,
    secretKey: env.MINIO_SECRET_KEY,
    useSSL: env.MINIO_USE_SSL,
    region: env.MINIO_REGION,
    timeoutMs: env.MINIO_TIMEOUT_MS,
  });
}

export function imageContextFromEnv(env: ImageServiceEnv): ImageContext {
  return {
    storage: storageFromEnv(env),
    defaultBucket: env.DEFAULT_BUCKET,
    codec: { limitInputPixels: env.LIMIT_INPUT_PIXELS, allowSvg: env.ALLOW_SVG_INPUT },
    maxInputBytes: env.MAX_INPUT_BYTES,
    // Waiters hold a call slot, so at most MAX_CONCURRENT_CALLS - 1 wait; MAX_QUEUED_CALLS=0 (no
    // waiting at all) makes a call that cannot decode now "busy" too.
    pixels: env.MAX_INFLIGHT_PIXELS > 0 ? new PixelBudget(env.MAX_INFLIGHT_PIXELS, env.MAX_QUEUED_CALLS) : undefined,
  };
}

/** Prometheus gauges of the pixel budget: pixels and calls, now and at their peak since start. */
export function trackPixelBudget(budget: PixelBudget, registry: Registry): void {
  new Gauge({
    name: 'imageflow_pixel_budget_pixels',
    help: 'Decoded pixels reserved by running calls (in_use), their peak since start, and the budget (MAX_INFLIGHT_PIXELS)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'in_use' }, budget.inUse);
      this.set({ state: 'peak' }, budget.peakInUse);
      this.set({ state: 'max' }, budget.maxPixels);
    },
  });
  new Gauge({
    name: 'imageflow_pixel_budget_calls',
    help: 'Calls decoding under the pixel budget, waiting for it, their peak since start, and the calls that ever had to wait (waited_total)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'decoding' }, budget.decoding);
      this.set({ state: 'waiting' }, budget.waiting);
      this.set({ state: 'peak_decoding' }, budget.peakDecoding);
      this.set({ state: 'waited_total' }, budget.waitedTotal);
    },
  });
}

export function tlsFromEnv(env: ImageServiceEnv): TlsFiles | undefined {
  if (!env.GRPC_TLS_CERT_FILE && !env.GRPC_TLS_KEY_FILE) return undefined;
  if (!env.GRPC_TLS_CERT_FILE || !env.GRPC_TLS_KEY_FILE) {
    throw new ConfigError('invalid configuration:\n  GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE must be set together');
  }
  return { certFile: env.GRPC_TLS_CERT_FILE, keyFile: env.GRPC_TLS_KEY_FILE, caFile: env.GRPC_TLS_CA_FILE };
}

export interface ServiceParts {
  readonly env: ImageServiceEnv;
  readonly logger: Logger;
  readonly images: ImageContext;
  readonly limiter: Limiter;
}

export interface ServiceProcessSpec {
  readonly name: string;
  readonly reflectionProtos: readonly string[];
  /**
   * Calls at once per core when MAX_CONCURRENT_CALLS is not set. Resize and filter take 2: part
   * of each call is receiving and sending images, and with one call per core a core idled then
   * (BENCHMARKS.md, finding 18). The constructs derive the same from the CPU limit.
   * @default 1
   */
  readonly callsPerCore?: number;
  /** Builds the gRPC services; may load models. */
  readonly create: (parts: ServiceParts) => Promise<{ services: ServiceRegistration[]; ready?: Promise<void>; close?: () => Promise<void> }>;
}

/** Starts a service from process.env and handles SIGTERM/SIGINT. Exits 1 on bad config. */
export async function runServiceProcess(spec: ServiceProcessSpec, env: NodeJS.ProcessEnv = process.env): Promise<GrpcServerHost> {
  const logger = createLogger(spec.name, env.LOG_LEVEL);
  let parsed: ImageServiceEnv;
  let images: ImageContext;
  let tls: TlsFiles | undefined;
  let tracing: Tracing;
  try {
    parsed = parseEnv(ImageServiceEnv, env);
    images = imageContextFromEnv(parsed);
    tls = tlsFromEnv(parsed);
    // Before anything that makes spans; off unless OTEL_* ask for an exporter.
    tracing = await initTracing(spec.name, { env });
  } catch (err) {
    if (err instanceof ConfigError || (err instanceof Error && /^OTEL_/.test(err.message))) {
      process.stderr.write(`${spec.name}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  configureSharp({ concurrency: parsed.SHARP_CONCURRENCY, cacheMemoryMb: parsed.SHARP_CACHE_MB });
  const calls = parsed.MAX_CONCURRENT_CALLS || Math.max(2, (spec.callsPerCore ?? 1) * availableParallelism());
  const limiter = new Limiter(calls, parsed.MAX_QUEUED_CALLS, parsed.MAX_INFLIGHT_REQUEST_BYTES || undefined);
  const metrics = initServiceMetrics(spec.name);
  metrics.trackLimiter(limiter);
  if (images.pixels) trackPixelBudget(images.pixels, metrics.registry);
  // 64 MiB keeps eight 12 MP messages; kept memory also raises V8's external-memory baseline, so
  // garbage piles higher before a collection (a 24 MP burst after 12 MP ones peaked higher).
  const messagePool = new BufferPool({ maxRetainedBytes: Math.min(MESSAGE_POOL_BYTES, parsed.MAX_INFLIGHT_REQUEST_BYTES || Infinity) });
  observeBufferPool(metrics.registry, 'imageflow_message_pool', 'request messages', messagePool);
  const built = await spec.create({ env: parsed, logger, images, limiter });
  const host = await GrpcServerHost.start({
    name: spec.name,
    host: parsed.GRPC_HOST,
    port: parsed.GRPC_PORT,
    maxMessageBytes: parsed.GRPC_MAX_MESSAGE_BYTES,
    services: built.services,
    logger,
    reflectionProtos: spec.reflectionProtos,
    tls,
    initialStatus: built.ready ? 'NOT_SERVING' : 'SERVING',
    maxConcurrentStreams: parsed.GRPC_MAX_CONCURRENT_STREAMS || undefined,
    flowControlWindowBytes: parsed.GRPC_FLOW_CONTROL_WINDOW_BYTES,
    fastUnary: parsed.GRPC_FAST_UNARY,
    messagePool,
  });
  built.ready?.then(
    () => {
      host.setStatus('SERVING');
      logger.info('ready');
    },
    (err: unknown) => logger.error({ err: (err as Error).message }, 'not ready: start-up failed'),
  );
  const metricsServer = await startMetricsServer({ host: parsed.GRPC_HOST, port: parsed.METRICS_PORT, registry: metrics.registry, logger });
  logger.info(
    { port: host.port, metricsPort: metricsServer.port, storage: images.storage?.endpoint ?? 'none', tls: Boolean(tls), tracing: tracing.enabled },
    `${spec.name} listening`,
  );
  // One line on stdout that launchers (npm run dev, tests) wait for. It names the metrics port as
  // bound: a METRICS_PORT already in use falls back to a free one.
  process.stdout.write(`READY ${spec.name} ${host.port} metrics ${metricsServer.port}\n`);
  const stop = (signal: string) => {
    logger.info({ signal }, 'draining');
    host
      .drain(parsed.SHUTDOWN_GRACE_MS)
      .then(() => built.close?.())
      // Metrics stay up while draining (a scrape then shows the drain); spans are flushed last.
      .then(() => metricsServer.close())
      .then(() => tracing.shutdown())
      .catch((err: unknown) => logger.error({ err: (err as Error).message }, 'shutdown step failed'))
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return host;
}
