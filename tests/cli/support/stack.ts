// A real local stack for CLI tests (embedded S3, service processes, gateway) on free ports, plus
// the pieces the runner tests need: the StackConnection `run` uses, real photos on disk, and a
// way to stop and restart one service process on its port (for outage tests).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnService, type ServiceName, type ServiceProcess } from '../../../services/local-stack/launcher.js';
import { startLocalStack, type LocalStack } from '../../../services/local-stack/stack.js';
import type { StackConnection } from '../../../cli/stack-connection.js';
import { photo, type PhotoName } from '../../fixtures/detection/photos.js';

export interface TestStack {
  readonly stack: LocalStack;
  readonly connection: StackConnection;
  readonly gateway: string;
  /** Stops a service process; resolves when it has exited. */
  stopService(name: ServiceName): Promise<number>;
  /** Starts it again on the same port. */
  restartService(name: ServiceName, port: number): Promise<void>;
  stop(): Promise<void>;
}

const FREE_PORTS = { S3_PORT: '0', RESIZE_PORT: '0', FILTER_PORT: '0', DETECTION_PORT: '0', GATEWAY_PORT: '0', MINIO_ENDPOINT: '' };

export async function startTestStack(only?: readonly ServiceName[]): Promise<TestStack> {
  const stack = await startLocalStack({ env: { ...process.env, ...FREE_PORTS, LOG_LEVEL: 'warn' }, only, serviceEnv: { LOG_LEVEL: 'warn' } });
  const gateway = stack.endpoints.find(([n]) => n === 'gateway')![1];
  const restarted: ServiceProcess[] = [];
  // The process now serving each service (a restarted one replaces the stack's).
  const current = new Map<ServiceName, ServiceProcess>(Object.entries(stack.services) as [ServiceName, ServiceProcess][]);
  return {
    stack,
    gateway,
    connection: { gatewayUrl: gateway, storage: stack.storage, bucket: stack.bucket, origin: 'test stack', close: async () => {} },
    async stopService(name) {
      const p = current.get(name)!;
      await p.stop();
      return p.port;
    },
    async restartService(name, port) {
      const p = await spawnService(name, {
        env: {
          MINIO_ENDPOINT: stack.s3.endpoint,
          MINIO_ACCESS_KEY: stack.s3.accessKey,
          MINIO_SECRET_KEY: stack.s3.secretKey,
          DEFAULT_BUCKET: stack.bucket,
          GRPC_HOST: '127.0.0.1',
          GRPC_PORT: String(port),
          LOG_LEVEL: 'warn',
        },
      });
      restarted.push(p);
      current.set(name, p);
      // The gateway notices on its own (reconnect backoff, circuit breaker half-open); wait until
      // it answers OK again so the next test starts from a healthy stack.
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const res = await fetch(`${gateway}/v1/health/${name}`).catch(() => undefined);
        if (res?.ok && ((await res.json()) as { circuit?: string }).circuit !== 'open') return;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`the gateway did not see ${name} again within 20 s`);
    },
    async stop() {
      for (const p of restarted) await p.stop();
      await stack.stop();
    },
  };
}

/** Real photos (Debian's scikit-image samples) written to a temp dir; returns their paths. */
export function photoFiles(names: readonly PhotoName[]): Record<PhotoName, string> {
  const dir = mkdtempSync(join(tmpdir(), 'imageflow-cli-photos-'));
  const out = {} as Record<PhotoName, string>;
  for (const n of names) {
    out[n] = join(dir, `${n}.png`);
    writeFileSync(out[n], photo(n));
  }
  return out;
}
