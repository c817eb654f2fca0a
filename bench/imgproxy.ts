// Section 6: the same resize through imgproxy (a Go image server on libvips), when an `imgproxy`
// binary is on PATH. It reads the photo from the local file system (local:// source), so it
// skips the upload the gateway's raw mode receives: a bar slightly in imgproxy's favour.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freePort } from '../tests/support/s3.js';
import { request } from './lib/http.js';
import { load, type Stats } from './lib/measure.js';

export const IMGPROXY_BUILD =
  'apt-get install -y libvips-dev && CGO_ENABLED=1 go install github.com/imgproxy/imgproxy/v3@<version from `go list -m -versions github.com/imgproxy/imgproxy/v3`>';

export function findImgproxy(): string | undefined {
  const fromEnv = process.env.IMGPROXY_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'imgproxy');
    if (dir && existsSync(p)) return p;
  }
  const goBin = join(process.env.HOME ?? '/root', 'go/bin/imgproxy');
  return existsSync(goBin) ? goBin : undefined;
}

export interface Imgproxy {
  readonly url: string;
  resize(file: string, width: number): Promise<unknown>;
  stop(): Promise<void>;
}

export async function startImgproxy(bin: string, root: string): Promise<Imgproxy> {
  const port = await freePort();
  const child = spawn(bin, [], {
    env: { ...process.env, IMGPROXY_BIND: `127.0.0.1:${port}`, IMGPROXY_LOCAL_FILESYSTEM_ROOT: root, IMGPROXY_LOG_LEVEL: 'error', IMGPROXY_MAX_SRC_RESOLUTION: '50' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`imgproxy exited: ${stderr.slice(-500)}`);
    try {
      await request(`${url}/health`, undefined, {}, 1_000);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`imgproxy did not answer /health within 20 s: ${stderr.slice(-500)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    resize: (file, width) => request(`${url}/insecure/rs:fit:${width}:0:0/plain/local:///${file}`, undefined),
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export async function imgproxyStats(proxy: Imgproxy, file: string, concurrency: number, iterations: number): Promise<Stats> {
  return load({ label: `imgproxy ${file} c${concurrency}`, concurrency, iterations, maxMs: 60_000 }, () => proxy.resize(file, 1024));
}
