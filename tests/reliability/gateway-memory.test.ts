// The gateway under a burst of large uploads stays inside its Deployment memory limit (512 MiB):
// request bodies are admitted only while the bytes in flight stay under
// MAX_INFLIGHT_REQUEST_BYTES (gateway), the rest are answered 503 + Retry-After before being read.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { startService } from '../support/services.js';
import { type RunningGateway, postRaw, startGateway } from '../gateway/support.js';
import { MEMORY_LIMIT_MIB } from './support/soak-runner.js';

const MIB = 1024 * 1024;
let resize: ServiceProcess;
let gw: RunningGateway;

beforeAll(async () => {
  resize = await startService('resize', { METRICS_PORT: '0' });
  // The gateway defaults (MAX_BODY_BYTES 64 MiB, MAX_INFLIGHT_REQUEST_BYTES 128 MiB), as deployed.
  gw = await startGateway({ RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}` });
});

afterAll(async () => {
  await gw?.stop();
  await resize?.stop();
});

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('gateway memory under a burst of large uploads', () => {
  it('16 concurrent 30 MiB bodies: answered 400 or 503 + Retry-After, RSS under the 512 MiB limit', { timeout: 120_000 }, async () => {
    const body = Buffer.alloc(30 * MIB, 7); // not an image: each admitted one ends as a 400
    let maxRss = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxRss = Math.max(maxRss, rssMiB(gw.process.child.pid!));
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const answers = await Promise.all(
      Array.from({ length: 16 }, () => postRaw(gw.base, '/v1/resize?width=10', body, 'image/jpeg').catch((e: Error) => ({ status: -1, headers: new Headers(), json: { error: { message: e.message } } }))),
    );
    sampling = false;
    await sampler;
    const statuses = answers.map((a) => a.status);
    console.log(`gateway memory summary ${JSON.stringify({ statuses, maxRssMiB: Math.round(maxRss) })}`);
    expect(statuses.every((s) => s === 400 || s === 503), statuses.join()).toBe(true);
    expect(statuses).toContain(503);
    for (const a of answers.filter((x) => x.status === 503)) expect(a.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(maxRss).toBeLessThan(MEMORY_LIMIT_MIB.gateway);
    expect((await postRaw(gw.base, '/v1/resize?width=10', await makePhoto(64, 48), 'image/jpeg')).status).toBe(200);
  });
});
