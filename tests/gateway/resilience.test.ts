// Resilience with real processes: a resize service killed mid-test gives fast 503s (never a hang
// past the deadline), the circuit opens, and the restarted service (same port) is used again
// without restarting the gateway. Also: "busy" answers, graceful shutdown, bad configuration.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTestS3, type TestS3 } from '../support/s3.js';
import { startService } from '../support/services.js';
import { makePhoto } from '../support/images.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { type RunningGateway, eventually, metricValue, post, postRaw, request, startGateway } from './support.js';

const DEADLINE_MS = 4_000;
const KEY = 'from-a-file-0123456789';
const auth = { authorization: `Bearer ${KEY}` };

let s3: TestS3;
let resize: ServiceProcess | undefined;
let resizePort: number;
let gw: RunningGateway;
let big: Buffer;

const resizeOnce = () => post(gw.base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 64 }, auth);
const circuit = async () => metricValue((await request(gw.base, '/metrics')).bytes.toString('utf8'), 'imageflow_gateway_circuit_breaker_state', { upstream: 'resize' });

beforeAll(async () => {
  s3 = await startTestS3(['imageflow']);
  resizePort = await freePort();
  resize = await startService('resize', { ...s3.env, GRPC_PORT: String(resizePort) });
  const dir = mkdtempSync(join(tmpdir(), 'gateway-keys-'));
  writeFileSync(join(dir, 'keys'), `# API keys\n${KEY}\n`);
  gw = await startGateway({
    ...s3.env,
    RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resizePort}`,
    GATEWAY_API_KEYS_FILE: join(dir, 'keys'),
    RESIZE_DEADLINE_MS: String(DEADLINE_MS),
    BREAKER_FAILURE_THRESHOLD: '3',
    BREAKER_OPEN_MS: '1000',
    RETRY_MAX_ATTEMPTS: '2',
    RETRY_BASE_DELAY_MS: '20',
    GRPC_MAX_RECONNECT_BACKOFF_MS: '500',
  });
  await s3.storage.write({ bucket: 'imageflow', key: 'photos/cat.jpg' }, await makePhoto(640, 480), 'image/jpeg');
  big = await makePhoto(2400, 1600);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await resize?.stop();
  await s3?.stop();
});

describe('an upstream that goes away and comes back', () => {
  it('answers 503 fast, opens the circuit, and recovers once the service is back', async () => {
    expect((await resizeOnce()).status).toBe(200);
    expect(await circuit()).toBe(0);

    resize!.child.kill('SIGKILL');
    await resize!.exited;
    resize = undefined;

    const first = await resizeOnce();
    expect(first.status).toBe(503);
    expect(first.json.error.code).toBe('UNAVAILABLE');
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(first.ms).toBeLessThan(DEADLINE_MS);

    // Failures accumulate until the circuit opens; then the gateway answers without calling.
    const open = await eventually('circuit open', resizeOnce, (a) => /circuit open/.test(a.json?.error?.message ?? ''), 10_000, 10);
    expect(open.status).toBe(503);
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await circuit()).toBe(2);

    const ready = await request(gw.base, '/ready');
    expect(ready.status).toBe(503);
    expect(ready.json.backends.resize.status).toBe('UNREACHABLE');
    expect((await request(gw.base, '/v1/health/resize')).status).toBe(503);

    // Same port, a service that takes one call at a time (for the "busy" test below).
    resize = await startService('resize', { ...s3.env, GRPC_PORT: String(resizePort), MAX_CONCURRENT_CALLS: '1', MAX_QUEUED_CALLS: '0' });
    const back = await eventually('requests succeed again', resizeOnce, (a) => a.status === 200, 30_000, 100);
    expect(back.json.output.width).toBe(64);
    expect(await circuit()).toBe(0);
    expect((await request(gw.base, '/ready')).status).toBe(200);
    const metrics = (await request(gw.base, '/metrics')).bytes.toString('utf8');
    expect(metricValue(metrics, 'imageflow_gateway_circuit_breaker_transitions_total', { upstream: 'resize', state: 'open' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(metrics, 'imageflow_gateway_upstream_retries_total', { upstream: 'resize' })).toBeGreaterThanOrEqual(1);
  });

  it('a saturated service ("busy") gives 503 with Retry-After, without opening the circuit', async () => {
    const answers = await Promise.all(Array.from({ length: 8 }, () => postRaw(gw.base, '/v1/resize?width=1200', big, 'image/jpeg', auth)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
    expect(statuses).toContain(200);
    const busy = answers.find((a) => a.status === 503);
    expect(busy, `statuses: ${statuses.join(',')}`).toBeDefined();
    expect(busy!.json.error.message).toMatch(/busy/);
    expect(busy!.headers.get('retry-after')).toBe('1');
    expect(await circuit()).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('finishes the request in flight on SIGTERM, then exits 0 and accepts no more', async () => {
    const inFlight = postRaw(gw.base, '/v1/resize?width=1000', big, 'image/jpeg', auth);
    await new Promise((r) => setTimeout(r, 50));
    gw.process.child.kill('SIGTERM');
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(await gw.process.exited).toBe(0);
    await expect(request(gw.base, '/health', { timeoutMs: 2_000 })).rejects.toThrow();
  });
});

describe('configuration', () => {
  it.each([
    ['HTTP_PORT', 'eighty'],
    ['RESIZE_GRPC_ENDPOINT', 'http://resize'],
    ['RETRY_MAX_ATTEMPTS', '0'],
    ['ALLOWED_BUCKETS', 'Not_A_Bucket'],
    ['GATEWAY_API_KEYS_FILE', '/nonexistent/keys'],
    ['GRPC_TLS_CA_FILE', '/nonexistent/ca.pem'],
  ])('a bad %s stops the process with exit 1, naming it', async (name, value) => {
    await expect(startGateway({ [name]: value })).rejects.toThrow(new RegExp(`code 1[\\s\\S]*${name}`));
  });
});
