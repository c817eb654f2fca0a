// The whole system on loopback: S3 (embedded unless MINIO_ENDPOINT is set), then every service
// as its own process wired to the others, as in a cluster.
import { z } from 'zod';
import { envOptionalString, envPort, envString, parseEnv } from '../shared/config.js';
import { Storage } from '../shared/storage.js';
import { startEmbeddedS3, type EmbeddedS3 } from './embedded-s3.js';
import { serviceExists, spawnService, type ServiceName, type ServiceProcess } from './launcher.js';

export const StackEnv = z.object({
  STACK_HOST: envString('127.0.0.1'),
  S3_PORT: envPort(9000),
  RESIZE_PORT: envPort(9091),
  FILTER_PORT: envPort(9092),
  DETECTION_PORT: envPort(9093),
  GATEWAY_PORT: envPort(8080),
  DEFAULT_BUCKET: envString('imageflow'),
  MINIO_ENDPOINT: envOptionalString(),
  MINIO_ACCESS_KEY: envOptionalString(),
  MINIO_SECRET_KEY: envOptionalString(),
});
export type StackEnv = z.infer<typeof StackEnv>;

export interface LocalStack {
  readonly s3: { endpoint: string; accessKey: string; secretKey: string; embedded: boolean };
  readonly bucket: string;
  readonly storage: Storage;
  readonly services: Partial<Record<ServiceName, ServiceProcess>>;
  /** `name  url` lines, in start order. */
  readonly endpoints: ReadonlyArray<readonly [string, string]>;
  stop(): Promise<void>;
}

export interface StackOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Which services to start. @default every service that exists in this checkout */
  readonly only?: readonly ServiceName[];
  /** Extra environment for every service process (e.g. LOG_LEVEL). */
  readonly serviceEnv?: Record<string, string>;
  readonly onLine?: (name: ServiceName, line: string) => void;
}

const ORDER: readonly ServiceName[] = ['resize', 'filter', 'detection', 'gateway'];

export async function startLocalStack(options: StackOptions = {}): Promise<LocalStack> {
  const env = parseEnv(StackEnv, options.env ?? process.env);
  const host = env.STACK_HOST;
  let embedded: EmbeddedS3 | undefined;
  let s3: LocalStack['s3'];
  if (env.MINIO_ENDPOINT) {
    s3 = { endpoint: env.MINIO_ENDPOINT, accessKey: env.MINIO_ACCESS_KEY ?? '', secretKey: env.MINIO_SECRET_KEY ?? '', embedded: false };
  } else {
    embedded = await startEmbeddedS3({ host, port: env.S3_PORT });
    s3 = { endpoint: embedded.endpoint, accessKey: embedded.accessKey, secretKey: embedded.secretKey, embedded: true };
  }
  const storage = new Storage({ endpoint: s3.endpoint, accessKey: s3.accessKey, secretKey: s3.secretKey, timeoutMs: 5_000 });
  const services: Partial<Record<ServiceName, ServiceProcess>> = {};
  const endpoints: Array<readonly [string, string]> = [];
  const stop = async () => {
    // Gateway first, so nothing calls a service that is already gone.
    for (const name of [...ORDER].reverse()) await services[name]?.stop();
    await embedded?.stop();
  };
  try {
    await storage.ensureBucket(env.DEFAULT_BUCKET);
    endpoints.push(['s3', s3.endpoint]);
    const common = {
      MINIO_ENDPOINT: s3.endpoint,
      MINIO_ACCESS_KEY: s3.accessKey,
      MINIO_SECRET_KEY: s3.secretKey,
      DEFAULT_BUCKET: env.DEFAULT_BUCKET,
      GRPC_HOST: host,
      ...options.serviceEnv,
    };
    const wanted = (options.only ?? ORDER).filter(serviceExists);
    const grpcPorts: Record<string, number> = { resize: env.RESIZE_PORT, filter: env.FILTER_PORT, detection: env.DETECTION_PORT };
    const backends = wanted.filter((n) => n !== 'gateway');
    // The gRPC services start in parallel; the gateway needs their ports.
    // Each service gets its own metrics port (gRPC port + 1000; ephemeral with an ephemeral gRPC port).
    const metricsPort = (name: string) => (grpcPorts[name] === 0 ? 0 : grpcPorts[name] + 1000);
    const started = await Promise.all(
      backends.map((name) =>
        spawnService(name, {
          env: { ...common, GRPC_PORT: String(grpcPorts[name]), METRICS_PORT: String(metricsPort(name)) },
          onLine: options.onLine,
        }),
      ),
    );
    for (const p of started) {
      services[p.name] = p;
      endpoints.push([p.name, `grpc://${host}:${p.port}`]);
    }
    // As bound: a port in use falls back to a free one.
    for (const p of started) if (p.metricsPort) endpoints.push([`${p.name} metrics`, `http://${host}:${p.metricsPort}/metrics`]);
    if (wanted.includes('gateway')) {
      const grpc = (n: ServiceName) => (services[n] ? `${host}:${services[n]!.port}` : '');
      const gateway = await spawnService('gateway', {
        env: {
          ...common,
          HTTP_HOST: host,
          HTTP_PORT: String(env.GATEWAY_PORT),
          RESIZE_GRPC_ENDPOINT: grpc('resize'),
          FILTER_GRPC_ENDPOINT: grpc('filter'),
          AI_DETECTION_GRPC_ENDPOINT: grpc('detection'),
        },
        onLine: options.onLine,
      });
      services.gateway = gateway;
      endpoints.push(['gateway', `http://${host}:${gateway.port}`]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { s3, bucket: env.DEFAULT_BUCKET, storage, services, endpoints, stop };
}
