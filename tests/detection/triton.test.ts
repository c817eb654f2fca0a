// The detection service process against an in-process Triton stand-in speaking the KServe v2
// gRPC protocol: the request tensor, YOLOv8 decoding, NMS, thresholds, letterbox mapping on a
// non-square image, the error codes and health when Triton fails or goes away, and the caller's
// trace context passed on to Triton.
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import type { AiDetectionServiceClient, DetectRequest, DetectResponse } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { call, codeOf, startService } from '../support/services.js';
import { type FakeTriton, YOLO_ANCHORS, startFakeTriton, writeYoloRegistry, yoloMetadata, yoloOutput } from './fake-triton.js';
import { detectRequest, detectionClient, eventually, healthOf } from './support.js';
import { type ReceivedSpan, startOtlpReceiver } from '../reliability/support/otlp-receiver.js';

let triton: FakeTriton;
let svc: ServiceProcess;
let client: AiDetectionServiceClient;
let wide: Buffer;

// An 800x400 image letterboxes into 640x640 at scale 0.8 with 160 grey rows above and below.
// Boxes below are in those input pixels; comments give them in original pixels.
const BOXES = [
  { cx: 160, cy: 280, w: 160, h: 160, classId: 0, score: 0.9 }, // person (100,50)-(300,250)
  { cx: 164, cy: 284, w: 160, h: 160, classId: 0, score: 0.8 }, // the same person, 4 px off: NMS drops it
  { cx: 160, cy: 280, w: 160, h: 160, classId: 2, score: 0.7 }, // a car on the same spot: another class, kept
  { cx: 520, cy: 432, w: 80, h: 64, classId: 16, score: 0.2 }, // a dog under the default threshold
  { cx: 480, cy: 320, w: 160, h: 160, classId: 0, score: 0.6 }, // another person (500,100)-(700,300)
];

beforeAll(async () => {
  triton = await startFakeTriton('yolov8n');
  triton.output = { data: yoloOutput(BOXES), shape: [1, 84, YOLO_ANCHORS] };
  const registry = writeYoloRegistry();
  svc = await startService('detection', {
    MODEL_REGISTRY_FILE: registry,
    TRITON_GRPC_URL: triton.url,
    TRITON_HEALTH_INTERVAL_MS: '200',
    TRITON_TIMEOUT_MS: '3000',
  });
  client = detectionClient(svc.port);
  wide = await sharp({ create: { width: 800, height: 400, channels: 3, background: { r: 200, g: 100, b: 50 } } }).png().toBuffer();
  await eventually(async () => (await healthOf(svc.port)) === 'SERVING', 30_000, 'SERVING');
}, 60_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  await triton?.stop();
});

beforeEach(() => {
  triton.ready = true;
  triton.failNext = undefined;
  triton.output = { data: yoloOutput(BOXES), shape: [1, 84, YOLO_ANCHORS] };
  triton.metadata = yoloMetadata('yolov8n');
});

const detect = (extra: Partial<DetectRequest> = {}) =>
  call<DetectRequest, DetectResponse>(client, client.detect, detectRequest({ data: wide }, extra), 20_000);
const summary = (r: DetectResponse) => r.detections.map((d) => [d.label, Math.round(d.confidence * 100) / 100, d.box!.x, d.box!.y, d.box!.width, d.box!.height]);
const serving = (want: string) => eventually(async () => (await healthOf(svc.port)) === want, 15_000, want);

describe('Triton backend', () => {
  it('sends a letterboxed FP32 [1,3,640,640] RGB/255 tensor named "images"', async () => {
    const before = triton.requests.length;
    await detect();
    const req = triton.requests[before];
    expect(req.id).toMatch(/^[0-9a-f-]{36}$/); // the call's request id
    expect(req).toMatchObject({ modelName: 'yolov8n', inputs: [{ name: 'images', datatype: 'FP32', shape: [1, 3, 640, 640] }], outputs: [{ name: 'output0' }] });
    const raw = req.rawInputContents[0];
    expect(raw.length).toBe(3 * 640 * 640 * 4);
    const at = (c: number, y: number, x: number) => raw.readFloatLE(((c * 640 + y) * 640 + x) * 4);
    for (const c of [0, 1, 2]) {
      expect(at(c, 0, 320)).toBeCloseTo(114 / 255, 5); // padding above
      expect(at(c, 159, 0)).toBeCloseTo(114 / 255, 5);
      expect(at(c, 639, 639)).toBeCloseTo(114 / 255, 5); // padding below
    }
    // The image band, channel-planar R, G, B.
    expect([at(0, 320, 320), at(1, 320, 320), at(2, 320, 320)].map((v) => Math.round(v * 255))).toEqual([200, 100, 50]);
    expect(Math.round(at(0, 160, 0) * 255)).toBe(200);
    expect(Math.round(at(0, 479, 639) * 255)).toBe(200);
  });

  it('decodes, suppresses per class and maps boxes back to original pixels', async () => {
    const r = await detect();
    expect(r).toMatchObject({ model: 'yolo', modelVersion: '8n', imageWidth: 800, imageHeight: 400 });
    expect(summary(r)).toEqual([
      ['person', 0.9, 100, 50, 200, 200],
      ['car', 0.7, 100, 50, 200, 200],
      ['person', 0.6, 500, 100, 200, 200],
    ]);
    expect(r.timings!.inferenceMs).toBeGreaterThan(0);
  });

  it('applies thresholds, class filter and max detections', async () => {
    expect(summary(await detect({ iouThreshold: 0.99 })).map((d) => d[1])).toEqual([0.9, 0.8, 0.7, 0.6]);
    expect(summary(await detect({ confidenceThreshold: 0.1 })).map((d) => d[0])).toEqual(['person', 'car', 'person', 'dog']);
    expect(summary(await detect({ confidenceThreshold: 0.1 })).at(-1)).toEqual(['dog', 0.2, 600, 300, 100, 80]);
    expect(summary(await detect({ classes: ['car'] }))).toEqual([['car', 0.7, 100, 50, 200, 200]]);
    expect(summary(await detect({ maxDetections: 1 }))).toHaveLength(1);
    expect(await detect({ confidenceThreshold: 0.95 })).toMatchObject({ detections: [] });
  });

  it('lists the Triton model as the ready default', async () => {
    const { models } = await call(client, client.listModels, {});
    expect(models).toEqual([expect.objectContaining({ name: 'yolo', backend: 'triton', decoder: 'yolov8', inputWidth: 640, isDefault: true, ready: true })]);
  });
});

describe('Triton failures', () => {
  const code = (extra: Partial<DetectRequest> = {}) => codeOf(client, client.detect, detectRequest({ data: wide }, extra));
  const details = () => detect().then(() => 'OK', (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`);

  it('maps an error answer to INTERNAL and a busy/unavailable answer to UNAVAILABLE', async () => {
    triton.failNext = { code: grpc.status.INTERNAL, details: 'onnxruntime error' };
    expect(await details()).toMatch(/^INTERNAL: Triton at .* rejected ModelInfer \(INTERNAL\): onnxruntime error/);
    triton.failNext = { code: grpc.status.UNAVAILABLE, details: 'server is shutting down' };
    expect(await code()).toBe('UNAVAILABLE');
    expect(await code()).toBe('OK');
  });

  it('refuses an output the decoder cannot read with INTERNAL, never a fake detection', async () => {
    triton.output = { data: new Float32Array(85 * 10), shape: [1, 85, 10] };
    expect(await details()).toMatch(/^INTERNAL: model "yolo" returned an output its yolov8 decoder cannot read/);
  });

  it('reports a model that is not ready: UNAVAILABLE and health NOT_SERVING, then back', async () => {
    triton.ready = false;
    await serving('NOT_SERVING');
    expect(await code()).toBe('UNAVAILABLE');
    expect((await call(client, client.listModels, {})).models[0].ready).toBe(false);
    triton.ready = true;
    await serving('SERVING');
    expect(await code()).toBe('OK');
  });

  it('reports Triton down: UNAVAILABLE and health NOT_SERVING, then recovers when it is back', async () => {
    await triton.stop();
    expect(await code()).toBe('UNAVAILABLE');
    await serving('NOT_SERVING');
    expect(await code()).toBe('UNAVAILABLE');
    await triton.start();
    await serving('SERVING');
    expect(await code()).toBe('OK');
  });

  it('reports a Triton model whose tensors do not match the registry instead of calling it', async () => {
    // The signature is read after (re)connecting: bring up a Triton serving another export. (The
    // stand-in, like Triton, refuses ModelInfer for tensors its model does not declare, so a call
    // made before the probe has read the new signature fails too; it never answers OK.)
    await triton.stop();
    await serving('NOT_SERVING');
    triton.metadata = { ...yoloMetadata('yolov8n'), inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 3, 640, 640] }] };
    await triton.start();
    const mismatch = /^UNAVAILABLE: Triton model "yolov8n" at .* has no input "images" \(inputs: input\); fix the registry entry "yolo"/;
    await eventually(async () => mismatch.test(await details()), 15_000, 'signature problem reported');
    // Reported, not called: the next Detect does not reach Triton.
    const calls = triton.requests.length;
    expect(await details()).toMatch(mismatch);
    expect(triton.requests.length).toBe(calls);
    expect(await healthOf(svc.port)).toBe('NOT_SERVING');
    // A probe that times out (Triton busy, not gone) says nothing about the model: the known
    // mismatch stays known, and Detect still does not reach Triton.
    triton.probeDelayMs = 2_500; // past the probe's 2 s deadline
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await details()).toMatch(mismatch);
    expect(triton.requests.length).toBe(calls);
    triton.probeDelayMs = 0;
    // Read again on every probe while it does not fit: a model reloaded in place is picked up.
    triton.metadata = { ...yoloMetadata('yolov8n'), inputs: [{ name: 'images', datatype: 'FP32', shape: [3, -1, -1] }] }; // batching, dynamic size
    await serving('SERVING');
    expect(await code()).toBe('OK');
  });

  it('still validates parameters before calling Triton', async () => {
    const before = triton.requests.length;
    expect(await code({ iouThreshold: 7 })).toBe('INVALID_ARGUMENT');
    expect(await code({ classes: ['dragon'] })).toBe('INVALID_ARGUMENT');
    expect(await code({ model: 'centernet' })).toBe('NOT_FOUND');
    expect(triton.requests.length).toBe(before);
  });
});

describe('Trace context to Triton', () => {
  it('sends none while tracing is off', async () => {
    const before = triton.requests.length;
    await detect();
    expect(triton.traceparents[before]).toBeUndefined();
  });

  it('continues the caller trace: Triton gets a traceparent whose parent span chain leads back to the caller', async () => {
    const otlp = await startOtlpReceiver();
    const traced = await startService('detection', {
      MODEL_REGISTRY_FILE: writeYoloRegistry(),
      TRITON_GRPC_URL: triton.url,
      TRITON_TIMEOUT_MS: '3000',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const tracedClient = detectionClient(traced.port);
    try {
      await eventually(async () => (await healthOf(traced.port)) === 'SERVING', 30_000, 'SERVING');
      const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
      const callerSpan = '00f067aa0ba902b7';
      const metadata = new grpc.Metadata();
      metadata.set('traceparent', `00-${callerTrace}-${callerSpan}-01`);
      const before = triton.requests.length;
      await new Promise<DetectResponse>((resolve, reject) =>
        tracedClient.detect(detectRequest({ data: wide }), metadata, { deadline: Date.now() + 20_000 }, (err, res) => (err ? reject(err) : resolve(res))),
      );
      const [, traceId, parentId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(triton.traceparents[before] ?? '') ?? [];
      expect(traceId).toBe(callerTrace);
      // Triton's parent is the service's inference span, a descendant of the server span that continued the caller's.
      const chainToCaller = (spans: ReceivedSpan[]) => {
        const chain: ReceivedSpan[] = [];
        for (let id = parentId; id !== callerSpan; ) {
          const span = spans.find((s) => s.spanId === id);
          if (!span) return undefined;
          chain.push(span);
          id = span.parentSpanId;
        }
        return chain;
      };
      const chain = chainToCaller(await otlp.waitFor((spans) => chainToCaller(spans) !== undefined))!;
      expect(chain[0]).toMatchObject({ service: 'imageflow-detection', name: 'inference yolo', traceId: callerTrace });
      expect(chain.at(-1)).toMatchObject({ kind: 2 /* SERVER */, traceId: callerTrace });
    } finally {
      tracedClient.close();
      await traced.stop();
      await otlp.close();
    }
  }, 60_000);
});
