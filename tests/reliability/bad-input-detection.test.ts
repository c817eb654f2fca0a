// The generated corpus against the detection service over gRPC (backed by the KServe v2 Triton
// stand-in from tests/detection, so no model has to load): broken images and hostile parameters
// are INVALID_ARGUMENT before any inference, odd-but-valid images are detected, a seeded fuzz
// never gives INTERNAL, and the service stays SERVING.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import type { AiDetectionServiceClient, DetectRequest } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { declaredDimensions, makePhoto } from '../support/images.js';
import { startService } from '../support/services.js';
import { startFakeTriton, writeYoloRegistry, type FakeTriton } from '../detection/fake-triton.js';
import { detectRequest, detectionClient, eventually, healthOf } from '../detection/support.js';
import { brokenImages, mutate, oddValidImages } from './support/corpus.js';
import { countBy } from './support/load.js';

let triton: FakeTriton;
let svc: ServiceProcess;
let client: AiDetectionServiceClient;

beforeAll(async () => {
  triton = await startFakeTriton('yolov8n');
  const registry = writeYoloRegistry();
  svc = await startService('detection', { METRICS_PORT: '0', MODEL_REGISTRY_FILE: registry, TRITON_GRPC_URL: triton.url, TRITON_HEALTH_INTERVAL_MS: '200', TRITON_TIMEOUT_MS: '10000' });
  client = detectionClient(svc.port);
  await eventually(async () => (await healthOf(svc.port)) === 'SERVING', 30_000, 'SERVING');
}, 90_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  await triton?.stop();
});

const codeOf = (req: DetectRequest) =>
  new Promise<string>((resolve) =>
    client.detect(req, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (err) => resolve(err ? grpc.status[err.code] : 'OK')),
  );

describe('detection: bad input over gRPC', () => {
  it('broken images → INVALID_ARGUMENT, and Triton is never asked', async () => {
    const before = triton.requests.length;
    const cases = [
      { name: 'zero bytes', data: Buffer.alloc(0), mayDecode: false },
      { name: 'the 50000x50000 bomb', data: await declaredDimensions(50_000, 50_000), mayDecode: false },
      { name: 'an SVG', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><image href="file:///etc/passwd"/></svg>'), mayDecode: false },
      ...(await brokenImages()).map((c) => ({ ...c, mayDecode: Boolean(c.mayDecode) })),
    ];
    const decodable = cases.filter((c) => c.mayDecode).length;
    for (const c of cases) {
      const code = await codeOf(detectRequest({ data: c.data }));
      expect(c.mayDecode ? ['OK', 'INVALID_ARGUMENT'] : ['INVALID_ARGUMENT'], c.name).toContain(code);
    }
    expect(triton.requests.length - before).toBeLessThanOrEqual(decodable);
  });

  it('odd but valid images are detected', async () => {
    for (const c of await oddValidImages()) expect(await codeOf(detectRequest({ data: c.data })), c.name).toBe('OK');
  });

  it.each([
    ['confidenceThreshold NaN', { confidenceThreshold: Number.NaN }],
    ['confidenceThreshold 2', { confidenceThreshold: 2 }],
    ['iouThreshold -1', { iouThreshold: -1 }],
    ['maxDetections -5', { maxDetections: -5 }],
    ['maxDetections 10^9', { maxDetections: 1e9 }],
    ['10 000 classes', { classes: Array.from({ length: 10_000 }, (_, i) => `c${i}`) }],
  ] as Array<[string, Partial<DetectRequest>]>)('%s → INVALID_ARGUMENT', async (_name, extra) => {
    expect(await codeOf(detectRequest({ data: await makePhoto(64, 48) }, extra))).toBe('INVALID_ARGUMENT');
  });

  it('a status message that echoes 10 000 class names is cut to ~2 kB (found here: it hung the connection)', async () => {
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.detect(detectRequest({ data: Buffer.from('x') }, { classes: Array.from({ length: 10_000 }, (_, i) => `unknown-class-${i}`) }), new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (e) => resolve(e)),
    );
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err!.details.length).toBeLessThan(2_200);
    expect(err!.details).toMatch(/more characters\)$/);
    // The same channel still works.
    expect(await codeOf(detectRequest({ data: await makePhoto(64, 48) }))).toBe('OK');
  });

  it('an unknown model → NOT_FOUND or INVALID_ARGUMENT, naming it', async () => {
    expect(['NOT_FOUND', 'INVALID_ARGUMENT']).toContain(await codeOf(detectRequest({ data: await makePhoto(64, 48) }, { model: '../../etc/passwd' })));
  });

  it('a seeded fuzz of 90 mutated images → only OK or INVALID_ARGUMENT; still SERVING', { timeout: 120_000 }, async () => {
    const seeds = [await makePhoto(96, 64, 'jpeg', 21), await makePhoto(96, 64, 'png', 22), await makePhoto(96, 64, 'webp', 23)];
    const codes: string[] = [];
    for (let i = 0; i < 90; i++) codes.push(await codeOf(detectRequest({ data: mutate(seeds[i % 3], 9_000 + i).data })));
    console.log(`detection fuzz ${JSON.stringify(countBy(codes.map((status) => ({ status, at: 0, ms: 0 }))))}`);
    expect(codes.every((c) => c === 'OK' || c === 'INVALID_ARGUMENT'), codes.join()).toBe(true);
    expect(await healthOf(svc.port)).toBe('SERVING');
    expect(svc.child.exitCode).toBeNull();
  });
});
