// The detection service's inference is observable: a Prometheus histogram per model, backend and
// outcome, and an `inference <model>` span under the call's server span, exported over OTLP.
// Backed by the Triton stand-in (no model to load).
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import type { AiDetectionServiceClient } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { makePhoto } from '../support/images.js';
import { startService } from '../support/services.js';
import { startFakeTriton, writeYoloRegistry, type FakeTriton } from '../detection/fake-triton.js';
import { detectRequest, detectionClient, eventually, healthOf } from '../detection/support.js';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.js';
import { scrape, sum } from './support/prometheus.js';

let triton: FakeTriton;
let otlp: OtlpReceiver;
let svc: ServiceProcess;
let client: AiDetectionServiceClient;
let metricsPort: number;

beforeAll(async () => {
  [triton, otlp] = await Promise.all([startFakeTriton('yolov8n'), startOtlpReceiver()]);
  const registry = writeYoloRegistry();
  svc = await startService('detection', {
    METRICS_PORT: '0',
    MODEL_REGISTRY_FILE: registry,
    TRITON_GRPC_URL: triton.url,
    TRITON_HEALTH_INTERVAL_MS: '200',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  metricsPort = svc.metricsPort!;
  client = detectionClient(svc.port);
  await eventually(async () => (await healthOf(svc.port)) === 'SERVING', 30_000, 'SERVING');
}, 90_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  await Promise.all([triton?.stop(), otlp?.close()]);
});

const detect = async () => {
  const data = await makePhoto(320, 240);
  return new Promise<string>((resolve) =>
    client.detect(detectRequest({ data }), new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (err) => resolve(err ? grpc.status[err.code] : 'OK')),
  );
};

describe('detection inference metrics and spans', () => {
  it('times each inference by model, backend and outcome', async () => {
    expect(await detect()).toBe('OK');
    expect(await detect()).toBe('OK');
    triton.failNext = { code: grpc.status.INTERNAL, details: 'model crashed' };
    expect(await detect()).not.toBe('OK');
    const m = await scrape(metricsPort);
    expect(sum(m, 'imageflow_model_inference_seconds_count', { model: 'yolo', backend: 'triton', outcome: 'ok' })).toBe(2);
    expect(sum(m, 'imageflow_model_inference_seconds_count', { model: 'yolo', backend: 'triton', outcome: 'error' })).toBe(1);
    expect(sum(m, 'imageflow_image_bytes_total', { direction: 'in' })).toBeGreaterThan(0);
  });

  it('an inference span under the call span', async () => {
    const spans = await otlp.waitFor((all) => all.some((s) => s.name.startsWith('inference ')));
    const inference = spans.find((s) => s.name === 'inference yolo')!;
    const server = spans.find((s) => s.spanId === inference.parentSpanId)!;
    expect(server?.name).toBe('imageflow.v1.AiDetectionService/Detect');
    expect(inference.attributes).toMatchObject({ 'imageflow.model': 'yolo', 'imageflow.backend': 'triton' });
  });
});
