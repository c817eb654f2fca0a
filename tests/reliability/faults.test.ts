// Faults under load, real processes on loopback: a service killed and restarted, the storage
// server stopped and started, SIGTERM to a service and to the gateway. Each test runs a bounded
// load, injects the fault at a fixed time, and checks every answer (status, shape, time) and the
// state left behind. Counts are printed as "faults summary" lines (they go into RELIABILITY.md).
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { makePhoto } from '../support/images.js';
import { freePort, startTestS3, type TestS3 } from '../support/s3.js';
import { resizeClient, startService } from '../support/services.js';
import { type RunningGateway, postRaw, request, startGateway } from '../gateway/support.js';
import { countBy, percentile, runLoad, type Outcome } from './support/load.js';
import { parsePrometheus, scrape, sum } from './support/prometheus.js';

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`condition not reached in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const DEADLINE_MS = 5_000;
/** Reconnect backoff (<= 500 ms) plus the breaker's open time (1 s), with slack for a busy machine. */
const RECOVERY_WINDOW_MS = 4_000;
let s3: TestS3;
let resize: ServiceProcess | undefined;
let resizePort: number;
let gw: RunningGateway;
let photo: Buffer;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const summary = (name: string, outcomes: readonly Outcome[], extra: Record<string, unknown> = {}) =>
  console.log(
    `faults summary ${name} ${JSON.stringify({ requests: outcomes.length, statuses: countBy(outcomes), p50: Math.round(percentile(outcomes.map((o) => o.ms), 50)), max: Math.round(Math.max(...outcomes.map((o) => o.ms))), ...extra })}`,
  );

beforeAll(async () => {
  s3 = await startTestS3();
  resizePort = await freePort();
  resize = await startService('resize', { ...s3.env, GRPC_PORT: String(resizePort), METRICS_PORT: '0', MINIO_TIMEOUT_MS: '1500' });
  gw = await startGateway({
    ...s3.env,
    RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resizePort}`,
    RESIZE_DEADLINE_MS: String(DEADLINE_MS),
    BREAKER_FAILURE_THRESHOLD: '5',
    BREAKER_OPEN_MS: '1000',
    RETRY_MAX_ATTEMPTS: '2',
    RETRY_BASE_DELAY_MS: '20',
    GRPC_MAX_RECONNECT_BACKOFF_MS: '500',
    SHUTDOWN_GRACE_MS: '10000',
  });
  photo = await makePhoto(640, 480);
  await s3.storage.write({ bucket: 'imageflow', key: 'faults/in.jpg' }, photo, 'image/jpeg');
});

afterAll(async () => {
  await gw?.stop();
  await resize?.stop();
  await s3?.stop();
});

type Answer = Awaited<ReturnType<typeof request>>;
/** Checks one gateway answer: a 200 with an output, or a 503 with the error shape and Retry-After. */
function judge(a: Answer): { status: string; detail?: string } {
  if (a.status === 200) return a.json?.output?.width > 0 ? { status: '200' } : { status: 'BAD-200', detail: a.bytes.toString().slice(0, 200) };
  const shaped = typeof a.json?.error?.code === 'string' && typeof a.json?.error?.message === 'string' && typeof a.json?.error?.requestId === 'string';
  if (!shaped) return { status: `UNSHAPED-${a.status}`, detail: a.bytes.toString().slice(0, 200) };
  if (a.status === 503 && !/^\d+$/.test(a.headers.get('retry-after') ?? '')) return { status: '503-NO-RETRY-AFTER' };
  return { status: String(a.status), detail: a.json.error.message };
}

async function circuitState(): Promise<number> {
  const text = (await request(gw.base, '/metrics')).bytes.toString('utf8');
  return sum(parsePrometheus(text), 'imageflow_gateway_circuit_breaker_state', { upstream: 'resize' });
}

describe('a service killed during load', () => {
  it('gives 503 within the deadline, opens the breaker, and recovers after the restart alone', { timeout: 90_000 }, async () => {
    const gatewayPid = gw.process.child.pid;
    const circuit: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        circuit.push(await circuitState());
        await sleep(100);
      }
    })();
    const stop = new AbortController();
    const started = performance.now();
    let restartedAt = Infinity;
    const faults = (async () => {
      await sleep(2_000);
      resize!.child.kill('SIGKILL');
      await resize!.exited;
      await sleep(3_000);
      resize = await startService('resize', { ...s3.env, GRPC_PORT: String(resizePort), METRICS_PORT: '0', MINIO_TIMEOUT_MS: '1500' });
      restartedAt = performance.now() - started;
      // Keep the load on until the gateway has been back for a while (bounded: the test has a timeout).
      await sleep(RECOVERY_WINDOW_MS + 2_000);
      stop.abort();
    })();
    // Paced (a fast-failing closed loop would starve the restarting process of CPU on 2 cores).
    const outcomes = await runLoad({
      concurrency: 8,
      ratePerSec: 30,
      durationMs: 60_000,
      stop: stop.signal,
      task: async (i) => judge(await request(gw.base, '/v1/resize', { json: { input: { key: 'faults/in.jpg' }, width: 40 + (i % 50) }, timeoutMs: 15_000 })),
    });
    await faults;
    sampling = false;
    await sampler;
    const reasons = [...new Set(outcomes.filter((o) => o.status !== '200').map((o) => o.detail?.replace(/\d+/g, 'N')))].slice(0, 5);
    summary('kill', outcomes, { restartedAtMs: Math.round(restartedAt), circuitOpenSamples: circuit.filter((c) => c === 2).length, reasons });

    expect(Object.keys(countBy(outcomes)).sort()).toEqual(['200', '503']);
    expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(DEADLINE_MS + 1_000);
    expect(circuit).toContain(2);
    // Recovered: the requests started RECOVERY_WINDOW_MS after the restart all succeeded.
    const late = outcomes.filter((o) => o.at > restartedAt + RECOVERY_WINDOW_MS);
    expect(late.length).toBeGreaterThan(5);
    expect(late.every((o) => o.status === '200')).toBe(true);
    expect(gw.process.child.pid).toBe(gatewayPid);
    expect(gw.process.child.exitCode).toBeNull();
    // Killed mid-call, the service left no partial output: every derived object is a whole image.
    const derived = await s3.storage.list('imageflow', 'derived/faults/');
    expect(derived.length).toBeGreaterThan(0);
    for (const key of derived) {
      const obj = await s3.storage.read({ bucket: 'imageflow', key }, 16 * 1024 * 1024);
      await expect(sharp(obj.data, { failOn: 'error' }).raw().toBuffer(), key).resolves.toBeInstanceOf(Buffer);
    }
  });
});

describe('the storage server stopped during load and started again', () => {
  it('gives 503, never a 200 whose object is missing; leaves no half-written object', { timeout: 120_000 }, async () => {
    const ok = new Map<string, { width: number; height: number }>();
    const failed = new Set<string>();
    const stop = new AbortController();
    const started = performance.now();
    let restartedAt = Infinity;
    const faults = (async () => {
      await sleep(2_000);
      await s3.stop();
      await sleep(3_000);
      await s3.start();
      restartedAt = performance.now() - started;
      await sleep(RECOVERY_WINDOW_MS + 2_000);
      stop.abort();
    })();
    const outcomes = await runLoad({
      concurrency: 8,
      ratePerSec: 30,
      durationMs: 60_000,
      stop: stop.signal,
      task: async (i) => {
        const key = `faults/out/${i}.jpg`;
        const a = await request(gw.base, '/v1/resize', { json: { input: { key: 'faults/in.jpg' }, width: 40 + (i % 50), output: { key } }, timeoutMs: 15_000 });
        const j = judge(a);
        if (j.status === '200') ok.set(key, { width: a.json.output.width, height: a.json.output.height });
        else failed.add(key);
        return j;
      },
    });
    await faults;
    // Outputs are checked once the storage answers again.
    const keys = await s3.storage.list('imageflow', 'faults/out/');
    let decoded = 0;
    const problems: string[] = [];
    for (const [key, dims] of ok) {
      const obj = await s3.storage.read({ bucket: 'imageflow', key }, 16 * 1024 * 1024).catch((e: Error) => (problems.push(`${key}: ${e.message}`), undefined));
      if (!obj) continue;
      const meta = await sharp(obj.data).metadata();
      if (meta.width !== dims.width || meta.height !== dims.height) problems.push(`${key}: ${meta.width}x${meta.height}, answer said ${dims.width}x${dims.height}`);
      decoded++;
    }
    // Every object present, answered 200 or not, is whole (a write whose answer was lost may exist; it must be complete).
    for (const key of keys) {
      const obj = await s3.storage.read({ bucket: 'imageflow', key }, 16 * 1024 * 1024);
      await sharp(obj.data, { failOn: 'error' }).raw().toBuffer().catch((e: Error) => problems.push(`${key} is not a whole image: ${e.message}`));
    }
    const orphans = keys.filter((k) => failed.has(k)).length;
    const reasons = [...new Set(outcomes.filter((o) => o.status !== '200').map((o) => o.detail?.replace(/\d+/g, 'N')))].slice(0, 5);
    summary('storage', outcomes, { answered200: ok.size, objectsListed: keys.length, decoded, writtenButNot200: orphans, restartedAtMs: Math.round(restartedAt), reasons });

    expect(problems).toEqual([]);
    expect(decoded).toBe(ok.size);
    const statuses = Object.keys(countBy(outcomes));
    expect(statuses.every((s) => s === '200' || s === '503'), statuses.join()).toBe(true);
    expect(statuses).toContain('503');
    // Recovered without restarting anything: the requests after the recovery window succeed.
    const tail = outcomes.filter((o) => o.at > restartedAt + RECOVERY_WINDOW_MS);
    expect(tail.length).toBeGreaterThan(3);
    expect(tail.every((o) => o.status === '200')).toBe(true);
  });
});

describe('SIGTERM during load', () => {
  it('a service finishes the calls it accepted, refuses new ones cleanly, exits 0 within the grace period', { timeout: 90_000 }, async () => {
    const GRACE_MS = 20_000;
    const svc = await startService('resize', { METRICS_PORT: '0', MAX_CONCURRENT_CALLS: '2', MAX_QUEUED_CALLS: '32', SHUTDOWN_GRACE_MS: String(GRACE_MS) });
    const big = await makePhoto(2400, 1600);
    const client = resizeClient(svc.port);
    const inline = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false };
    const one = () =>
      new Promise<string>((resolve) =>
        client.resize({ source: { data: big }, width: 1600, fit: 0, withoutEnlargement: false, background: '', output: inline }, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (err) =>
          resolve(err ? grpc.status[err.code] : 'OK'),
        ),
      );
    // Warm the channel so the first calls are really in the server when the signal lands.
    expect(await one()).toBe('OK');
    const accepted = Array.from({ length: 8 }, one);
    // Signal only once all 8 are inside the service (running or queued), whatever the machine's load.
    await eventually(async () => sum(await scrape(svc.metricsPort!), 'imageflow_grpc_server_in_flight_calls') >= 8, 20_000);
    const signalled = performance.now();
    svc.child.kill('SIGTERM');
    await sleep(200);
    const late = await Promise.all(Array.from({ length: 4 }, one));
    const acceptedCodes = await Promise.all(accepted);
    const exitCode = await svc.exited;
    const exitMs = performance.now() - signalled;
    client.close();
    console.log(`faults summary sigterm-service ${JSON.stringify({ accepted: countBy(acceptedCodes.map((status) => ({ status, at: 0, ms: 0 }))), late, exitCode, exitMs: Math.round(exitMs) })}`);
    expect(acceptedCodes).toEqual(Array(8).fill('OK'));
    expect(late.every((c) => c === 'UNAVAILABLE')).toBe(true);
    expect(exitCode).toBe(0);
    expect(exitMs).toBeLessThan(GRACE_MS);
  });

  it('the gateway finishes the requests in flight, refuses new connections, exits 0 within the grace period', { timeout: 90_000 }, async () => {
    const big = await makePhoto(1600, 1200);
    const inFlight = Array.from({ length: 6 }, () => postRaw(gw.base, '/v1/resize?width=1200', big, 'image/jpeg').catch((e: Error) => ({ status: -1, error: e.message })));
    // All 6 received (the /metrics request counts itself too).
    const inFlightNow = async () => sum(parsePrometheus((await request(gw.base, '/metrics')).bytes.toString('utf8')), 'imageflow_gateway_http_in_flight_requests');
    await eventually(async () => (await inFlightNow()) >= 7, 20_000);
    const signalled = performance.now();
    gw.process.child.kill('SIGTERM');
    await sleep(300);
    // A new connection (not one from fetch's keep-alive pool) must be refused.
    const after = await new Promise<string>((resolve) =>
      http
        .get(`${gw.base}/health`, { agent: false, timeout: 2_000 }, (res) => (res.resume(), resolve(String(res.statusCode))))
        .on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message)),
    );
    const answers = await Promise.all(inFlight);
    const exitCode = await gw.process.exited;
    const exitMs = performance.now() - signalled;
    console.log(`faults summary sigterm-gateway ${JSON.stringify({ inFlight: answers.map((a) => a.status), newRequest: after, exitCode, exitMs: Math.round(exitMs) })}`);
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    // Refused at the TCP level (or, if it raced the close, reset); never served.
    expect(['ECONNREFUSED', 'ECONNRESET']).toContain(after);
    expect(exitCode).toBe(0);
    expect(exitMs).toBeLessThan(10_000);

  });
});
