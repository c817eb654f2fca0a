// A real S3 server per test file: the MinIO server when its binary is available (CI builds it),
// else the embedded s3rver. IMAGEFLOW_TEST_S3=minio|embedded forces one. Either can be stopped
// and restarted on the same port and data directory, for outage tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedS3, type EmbeddedS3 } from '../../services/local-stack/embedded-s3.js';
import { Storage } from '../../services/shared/storage.js';

export const MINIO_BIN = process.env.IMAGEFLOW_MINIO_BIN ?? join(homedir(), '.cache/imageflow/bin/minio');

export type S3Kind = 'minio' | 'embedded';

export function s3Kind(): S3Kind {
  const forced = process.env.IMAGEFLOW_TEST_S3;
  if (forced === 'minio' || forced === 'embedded') return forced;
  return existsSync(MINIO_BIN) ? 'minio' : 'embedded';
}

export interface TestS3 {
  readonly kind: S3Kind;
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly storage: Storage;
  /** Env for a service process using this server. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
  /** Starts again on the same port with the same data. */
  start(): Promise<void>;
}

/** Binds `port` (0: any) on loopback and lets it go; resolves with the port, or undefined if taken. */
function probe(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

/** The first port of the kernel's ephemeral range (bind(0) and outgoing connections use it). */
const EPHEMERAL_LOW = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();

/**
 * A port free now, for a process to bind later (a server restarted on the same port, a port
 * nothing listens on). Picked below the ephemeral range: a port from bind(0) could be handed to
 * a parallel test's own bind(0) or outgoing connection before it is bound again.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probe(20_000 + Math.floor(Math.random() * Math.max(1, EPHEMERAL_LOW - 20_000)));
    if (port !== undefined) return port;
  }
  const any = await probe(0);
  if (any === undefined) throw new Error('no free port on 127.0.0.1');
  return any;
}

export async function startTestS3(buckets: readonly string[] = ['imageflow'], kind: S3Kind = s3Kind()): Promise<TestS3> {
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), `imageflow-test-${kind}-`));
  const accessKey = kind === 'minio' ? 'imageflow-test' : 'S3RVER';
  const secretKey = kind === 'minio' ? 'imageflow-test-secret' : 'S3RVER';
  const endpoint = `http://127.0.0.1:${port}`;
  let running: { stop(): Promise<void> } | undefined;
  const start = async () => {
    running = kind === 'minio' ? await startMinio(port, directory, accessKey, secretKey) : await embedded(port, directory);
  };
  await start();
  const storage = new Storage({ endpoint, accessKey, secretKey, timeoutMs: 5_000 });
  for (const b of buckets) await storage.ensureBucket(b);
  return {
    kind,
    endpoint,
    accessKey,
    secretKey,
    storage,
    env: { MINIO_ENDPOINT: endpoint, MINIO_ACCESS_KEY: accessKey, MINIO_SECRET_KEY: secretKey, DEFAULT_BUCKET: buckets[0] ?? 'imageflow' },
    stop: async () => {
      await running?.stop();
      running = undefined;
    },
    start,
  };
}

async function embedded(port: number, directory: string): Promise<EmbeddedS3> {
  return startEmbeddedS3({ port, directory });
}

async function startMinio(port: number, directory: string, user: string, password: string): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn(MINIO_BIN, ['server', directory, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${await freePort()}`, '--quiet'], {
    env: { ...process.env, MINIO_ROOT_USER: user, MINIO_ROOT_PASSWORD: password, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`minio exited: ${stderr}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/minio/health/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`minio did not become ready in 30 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
