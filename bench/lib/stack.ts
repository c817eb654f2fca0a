// The system under test, on loopback: a real S3 server (MinIO when its binary is there, as in
// CI, else the embedded one), every service process and the gateway, on ephemeral ports.
import { startLocalStack, type LocalStack } from '../../services/local-stack/stack.js';
import { startTestS3, type TestS3 } from '../../tests/support/s3.js';
import type { ServiceName } from '../../services/local-stack/launcher.js';

export const BUCKET = 'imageflow';

export interface BenchStack {
  readonly s3: TestS3;
  readonly stack: LocalStack;
  readonly gatewayUrl?: string;
  readonly ports: Partial<Record<ServiceName, number>>;
  readonly pids: Partial<Record<ServiceName, number>>;
  /** Env giving a service process this storage. */
  readonly storageEnv: Record<string, string>;
  put(key: string, data: Buffer, contentType?: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startBenchStack(options: { only?: readonly ServiceName[]; serviceEnv?: Record<string, string> } = {}): Promise<BenchStack> {
  const s3 = await startTestS3([BUCKET]);
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      env: {
        STACK_HOST: '127.0.0.1',
        RESIZE_PORT: '0',
        FILTER_PORT: '0',
        DETECTION_PORT: '0',
        GATEWAY_PORT: '0',
        DEFAULT_BUCKET: BUCKET,
        MINIO_ENDPOINT: s3.endpoint,
        MINIO_ACCESS_KEY: s3.accessKey,
        MINIO_SECRET_KEY: s3.secretKey,
      },
      only: options.only,
      serviceEnv: { SHUTDOWN_GRACE_MS: '2000', ...options.serviceEnv },
    });
  } catch (err) {
    await s3.stop();
    throw err;
  }
  const ports: BenchStack['ports'] = {};
  const pids: BenchStack['pids'] = {};
  for (const [name, p] of Object.entries(stack.services)) {
    ports[name as ServiceName] = p!.port;
    pids[name as ServiceName] = p!.child.pid;
  }
  const gatewayUrl = ports.gateway ? `http://127.0.0.1:${ports.gateway}` : undefined;
  if (gatewayUrl) await waitReady(gatewayUrl);
  return {
    s3,
    stack,
    gatewayUrl,
    ports,
    pids,
    storageEnv: s3.env,
    put: (key, data, contentType = 'image/jpeg') => s3.storage.write({ bucket: BUCKET, key }, data, contentType).then(() => undefined),
    async stop() {
      await stack.stop();
      await s3.stop();
    },
  };
}

/** Waits for the gateway's /ready (every backend SERVING: the detection model loaded). */
async function waitReady(url: string, maxMs = 120_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/ready`);
      if (res.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`gateway at ${url} not ready within ${maxMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
