// The detection backend (the KServe v2 Triton stand-in from tests/detection, behind a delaying
// TCP proxy) turns slow, then fails: detect answers within its deadlines, detection health goes
// NOT_SERVING, and resize through the same gateway is unaffected throughout; all recover.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { startService } from '../support/services.js';
import { type RunningGateway, eventually, postRaw, request, startGateway } from '../gateway/support.js';
import { startFakeTriton, writeYoloRegistry, type FakeTriton } from '../detection/fake-triton.js';
import { countBy, runLoad } from './support/load.js';
import { startDelayProxy, type DelayProxy } from './support/delay-proxy.js';

// A 4.9 MB input tensor crosses the proxy per call: 1 s is too tight on a busy 2-core machine.
const TRITON_TIMEOUT_MS = 2_500;
const DETECT_DEADLINE_MS = 8_000;
let triton: FakeTriton;
let proxy: DelayProxy;
let detection: ServiceProcess;
let resize: ServiceProcess;
let gw: RunningGateway;
let photo: string;
let image: Buffer;

beforeAll(async () => {
  triton = await startFakeTriton('yolov8n');
  proxy = await startDelayProxy(triton.port);
  const registry = writeYoloRegistry();
  [detection, resize] = await Promise.all([
    startService('detection', {
      METRICS_PORT: '0',
      MODEL_REGISTRY_FILE: registry,
      TRITON_GRPC_URL: `127.0.0.1:${proxy.port}`,
      TRITON_TIMEOUT_MS: String(TRITON_TIMEOUT_MS),
      TRITON_HEALTH_INTERVAL_MS: '200',
    }),
    startService('resize', { METRICS_PORT: '0' }),
  ]);
  gw = await startGateway({
    RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}`,
    AI_DETECTION_GRPC_ENDPOINT: `127.0.0.1:${detection.port}`,
    DETECT_DEADLINE_MS: String(DETECT_DEADLINE_MS),
    RESIZE_DEADLINE_MS: '5000',
    RETRY_MAX_ATTEMPTS: '2',
    RETRY_BASE_DELAY_MS: '20',
  });
  image = await makePhoto(320, 240);
  photo = image.toString('base64');
  await eventually('detection SERVING', () => request(gw.base, '/v1/health/detection'), (a) => a.status === 200, 30_000);
}, 120_000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([detection?.stop(), resize?.stop()]);
  await proxy?.close();
  await triton?.stop();
});

const detect = () => request(gw.base, '/v1/detect', { json: { input: { data: photo } }, timeoutMs: 20_000 });
const resizeLoad = (durationMs: number) =>
  runLoad({
    concurrency: 2,
    ratePerSec: 10,
    durationMs,
    task: async (i) => String((await postRaw(gw.base, `/v1/resize?width=${50 + (i % 20)}`, image, 'image/jpeg')).status),
  });

describe('a failing, then slow, Triton', () => {
  it('failing (model not ready, then Triton gone): 503 fast, NOT_SERVING, resize unaffected; then recovers', { timeout: 90_000 }, async () => {
    triton.ready = false;
    const resizing = resizeLoad(4_000);
    await eventually('detection NOT_SERVING', () => request(gw.base, '/v1/health/detection'), (a) => a.status === 503, 10_000);
    const notReady = await detect();
    await triton.stop();
    const gone = await eventually('Triton gone → 503', detect, (a) => a.status === 503, 10_000);
    const resized = await resizing;
    console.log(`faults summary triton-failing ${JSON.stringify({ notReady: [notReady.status, Math.round(notReady.ms), notReady.json?.error?.message], gone: [gone.status, Math.round(gone.ms)], resize: countBy(resized) })}`);
    expect(notReady.status).toBe(503);
    expect(gone.ms).toBeLessThan(DETECT_DEADLINE_MS);
    expect(countBy(resized)).toEqual({ '200': resized.length });

    triton.ready = true;
    await triton.start();
    await eventually('detection SERVING again', () => request(gw.base, '/v1/health/detection'), (a) => a.status === 200, 20_000);
    await eventually('detect answers 200', detect, (a) => a.status === 200, 20_000);
    expect(detection.child.exitCode).toBeNull();
  });

  it('slow: detect fails within the Triton deadline, health NOT_SERVING, resize unaffected; then recovers', { timeout: 90_000 }, async () => {
    await eventually('detect answers 200', detect, (a) => a.status === 200, 20_000);

    proxy.delayMs = 3 * TRITON_TIMEOUT_MS;
    const resizing = resizeLoad(6_000);
    const slow = [];
    for (let i = 0; i < 2; i++) slow.push(await detect());
    await eventually('detection NOT_SERVING', () => request(gw.base, '/v1/health/detection'), (a) => a.status === 503, 10_000);
    const resized = await resizing;
    console.log(`faults summary triton-slow ${JSON.stringify({ detect: slow.map((a) => [a.status, Math.round(a.ms)]), resize: countBy(resized) })}`);
    for (const a of slow) {
      expect([503, 504]).toContain(a.status);
      expect(a.json.error.code).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
      // One Triton deadline, perhaps one gateway retry, never the full slowness of the backend.
      expect(a.ms).toBeLessThan(DETECT_DEADLINE_MS + 500);
    }
    expect(countBy(resized)).toEqual({ '200': resized.length });
    expect((await request(gw.base, '/v1/health/resize')).status).toBe(200);

    // Recovery is not instant: 2.8 MB answers already queued behind the delay drain first.
    proxy.delayMs = 0;
    const healed = performance.now();
    await eventually('detection SERVING again', () => request(gw.base, '/v1/health/detection'), (a) => a.status === 200, 30_000);
    await eventually('detect succeeds again', detect, (a) => a.status === 200, 30_000);
    console.log(`faults summary triton-slow-recovery ${JSON.stringify({ recoveredMs: Math.round(performance.now() - healed) })}`);
  });
});
