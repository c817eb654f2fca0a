// Rate limiting per API key at the gateway under load: a greedy key is held to its rate (429 +
// Retry-After past the burst) while a polite key sharing the gateway is never limited, health and
// metrics are never limited, and the greedy key is served again once it slows down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { startService } from '../support/services.js';
import { type RunningGateway, postRaw, request, startGateway } from '../gateway/support.js';
import { countBy, runLoad } from './support/load.js';

const RATE = 4;
const BURST = 4;
let resize: ServiceProcess;
let gw: RunningGateway;
let photo: Buffer;
const greedy = { authorization: 'Bearer greedy-key-0123456789' };
const polite = { authorization: 'Bearer polite-key-9876543210' };

beforeAll(async () => {
  resize = await startService('resize', { METRICS_PORT: '0' });
  gw = await startGateway({
    RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}`,
    GATEWAY_API_KEYS: 'greedy-key-0123456789,polite-key-9876543210',
    GATEWAY_RATE_LIMIT_RPS: String(RATE),
    GATEWAY_RATE_LIMIT_BURST: String(BURST),
  });
  photo = await makePhoto(64, 48);
});

afterAll(async () => {
  await gw?.stop();
  await resize?.stop();
});

const resizeAs = (headers: Record<string, string>) => postRaw(gw.base, '/v1/resize?width=32', photo, 'image/jpeg', headers);

describe('rate limit per API key', () => {
  it('holds a greedy key to its rate while a polite key is never limited', { timeout: 60_000 }, async () => {
    const DURATION_MS = 4_000;
    const retryAfter: string[] = [];
    const [greedyOut, politeOut] = await Promise.all([
      runLoad({
        concurrency: 4,
        ratePerSec: 25,
        durationMs: DURATION_MS,
        task: async () => {
          const a = await resizeAs(greedy);
          if (a.status === 429) retryAfter.push(a.headers.get('retry-after') ?? '');
          return { status: String(a.status), detail: a.json?.error?.code };
        },
      }),
      runLoad({ concurrency: 1, ratePerSec: 2, durationMs: DURATION_MS, task: async () => String((await resizeAs(polite)).status) }),
    ]);
    const g = countBy(greedyOut);
    console.log(`rate limit summary ${JSON.stringify({ greedy: g, polite: countBy(politeOut) })}`);
    expect(countBy(politeOut)).toEqual({ '200': politeOut.length });
    expect(Object.keys(g).sort()).toEqual(['200', '429']);
    // At most the burst plus the rate over the run (plus one token of slack for timing).
    expect(g['200']).toBeLessThanOrEqual(BURST + Math.ceil((RATE * DURATION_MS) / 1000) + 1);
    expect(g['200']).toBeGreaterThanOrEqual(BURST);
    expect(retryAfter.every((v) => /^[1-9]\d*$/.test(v))).toBe(true);
    expect(greedyOut.filter((o) => o.status === '429').every((o) => o.detail === 'RESOURCE_EXHAUSTED')).toBe(true);
  });

  it('never limits health and metrics; serves the greedy key again after a pause', async () => {
    for (let i = 0; i < 30; i++) expect((await request(gw.base, '/health')).status).toBe(200);
    expect((await request(gw.base, '/metrics')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await resizeAs(greedy)).status).toBe(200);
  });

  it('an unknown key is refused (401) before it costs anyone a token', async () => {
    const a = await resizeAs({ authorization: 'Bearer not-a-key' });
    expect(a.status).toBe(401);
    expect((await resizeAs(polite)).status).toBe(200);
  });
});
