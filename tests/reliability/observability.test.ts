// Metrics and traces of a real service process: the Prometheus series move with the calls made,
// and one trace links the caller's span, the service's server span and its storage calls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import type { ResizeRequest, ResizeResponse, ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { initTracing, injectTraceContext, tracer, type Tracing } from '../../services/shared/tracing.js';
import { makePhoto } from '../support/images.js';
import { freePort, startTestS3, type TestS3 } from '../support/s3.js';
import { call, resizeClient, startService } from '../support/services.js';
import { startOtlpReceiver, type OtlpReceiver } from './support/otlp-receiver.js';
import { scrape, sum } from './support/prometheus.js';

const METHOD = 'imageflow.v1.ResizeService/Resize';
let s3: TestS3;
let otlp: OtlpReceiver;
let service: ServiceProcess;
let metricsPort: number;
let client: ResizeServiceClient;
let photo: Buffer;
const exporter = new InMemorySpanExporter();
let tracing: Tracing;
const input = { bucket: 'imageflow', key: 'obs/in.jpg' };

beforeAll(async () => {
  tracing = await initTracing('test-client', { exporter });
  [s3, otlp] = await Promise.all([startTestS3(), startOtlpReceiver()]);
  service = await startService('resize', {
    ...s3.env,
    METRICS_PORT: '0',
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: '100',
  });
  metricsPort = service.metricsPort!;
  client = resizeClient(service.port);
  photo = await makePhoto(320, 240);
  await s3.storage.write(input, photo, 'image/jpeg');
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await Promise.all([s3?.stop(), otlp?.close(), tracing?.shutdown()]);
});

const req = (width: number): ResizeRequest => ({
  source: { object: input },
  width,
  fit: 0,
  withoutEnlargement: false,
  background: '',
  output: { delivery: OutputDelivery.OUTPUT_DELIVERY_STORE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false },
});

describe('Prometheus metrics on METRICS_PORT', () => {
  it('count calls by code, time them, and track bytes, storage, libvips and process memory', async () => {
    const outputs: ResizeResponse[] = [];
    for (const w of [100, 120, 140]) outputs.push(await call(client, client.resize, req(w)));
    await expect(call(client, client.resize, { ...req(100), source: { data: Buffer.alloc(0) } })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });

    const m = await scrape(metricsPort);
    expect(sum(m, 'imageflow_grpc_server_handled_total', { method: METHOD, code: 'OK' })).toBe(3);
    expect(sum(m, 'imageflow_grpc_server_handled_total', { method: METHOD, code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(sum(m, 'imageflow_grpc_server_handling_seconds_count', { method: METHOD })).toBe(4);
    expect(sum(m, 'imageflow_grpc_server_handling_seconds_bucket', { method: METHOD, code: 'OK', le: '+Inf' })).toBe(3);
    expect(sum(m, 'imageflow_grpc_server_in_flight_calls', { method: METHOD })).toBe(0);
    expect(sum(m, 'imageflow_image_bytes_total', { op: 'resize', direction: 'in' })).toBe(3 * photo.length);
    const out = outputs.reduce((a, o) => a + o.output!.sizeBytes, 0);
    expect(sum(m, 'imageflow_image_bytes_total', { op: 'resize', direction: 'out' })).toBe(out);
    expect(sum(m, 'imageflow_storage_operation_seconds_count', { operation: 'read', outcome: 'ok' })).toBe(3);
    expect(sum(m, 'imageflow_storage_operation_seconds_count', { operation: 'write', outcome: 'ok' })).toBe(3);
    expect(m.some((s) => s.name === 'imageflow_libvips_tracked_memory_bytes' && s.labels.kind === 'high')).toBe(true);
    expect(sum(m, 'imageflow_process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(sum(m, 'imageflow_process_memory_bytes', { kind: 'rss' })).toBeGreaterThan(10 * 1024 * 1024);
    expect(sum(m, 'imageflow_limiter_calls', { state: 'running' })).toBe(0);
    expect(sum(m, 'imageflow_limiter_calls', { state: 'max_queued' })).toBe(64);
    // Every series carries the service name.
    expect(m.filter((s) => s.name.startsWith('imageflow_')).every((s) => s.labels.service === 'resize')).toBe(true);
  });

  it('serves nothing but /metrics', async () => {
    expect((await fetch(`http://127.0.0.1:${metricsPort}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('a second service asked for a port in use still starts, its metrics on a free port', async () => {
    const other = await startService('filter', { ...s3.env, METRICS_PORT: String(metricsPort) });
    try {
      expect(other.port).toBeGreaterThan(0);
      expect(other.metricsPort).toBeGreaterThan(0);
      expect(other.metricsPort).not.toBe(metricsPort);
      // The filter's own metrics, not the resize service's on the port it asked for.
      const m = (await scrape(other.metricsPort!)).filter((s) => s.name.startsWith('imageflow_'));
      expect(m.length).toBeGreaterThan(0);
      expect(m.every((s) => s.labels.service === 'filter')).toBe(true);
    } finally {
      await other.stop();
    }
  });
});

describe('OpenTelemetry tracing (OTLP from OTEL_* env; W3C context in gRPC metadata)', () => {
  it('links the caller span → service server span → storage read/write and image spans', async () => {
    const root = tracer().startSpan('POST /v1/resize', { kind: SpanKind.SERVER });
    const rootCtx = trace.setSpan(context.active(), root);
    const clientSpan = tracer().startSpan(`grpc ${METHOD}`, { kind: SpanKind.CLIENT }, rootCtx);
    const metadata = injectTraceContext(new grpc.Metadata(), trace.setSpan(rootCtx, clientSpan));
    expect(String(metadata.get('traceparent')[0])).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await new Promise<ResizeResponse>((resolve, reject) =>
      client.resize(req(90), metadata, { deadline: Date.now() + 20_000 }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    clientSpan.end();
    root.end();
    const traceId = root.spanContext().traceId;

    const spans = await otlp.waitFor((all) => {
      const names = all.filter((s) => s.traceId === traceId).map((s) => s.name);
      return ['s3 read', 's3 write', 'image resize', METHOD].every((n) => names.includes(n));
    });
    const mine = spans.filter((s) => s.traceId === traceId);
    const server = mine.find((s) => s.name === METHOD)!;
    expect(server).toMatchObject({ service: 'imageflow-resize', kind: 2 /* SERVER */, parentSpanId: clientSpan.spanContext().spanId });
    expect(server.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'Resize', 'rpc.grpc.status_code': 0 });
    for (const name of ['s3 read', 's3 write', 'image resize']) {
      expect(mine.find((s) => s.name === name)?.parentSpanId, name).toBe(server.spanId);
    }
    expect(mine.find((s) => s.name === 's3 write')!.attributes['aws.s3.bucket']).toBe('imageflow');
    // The caller's own spans went to its in-memory exporter, with the same parent chain.
    const local = exporter.getFinishedSpans();
    expect(local.find((s) => s.name === `grpc ${METHOD}`)?.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
  });

  it('an unreachable collector costs nothing visible: calls succeed, the service stays up', async () => {
    const deadPort = await freePort();
    const svc = await startService('resize', { ...s3.env, METRICS_PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}`, OTEL_BSP_SCHEDULE_DELAY: '50' });
    const c = resizeClient(svc.port);
    try {
      for (let i = 0; i < 5; i++) expect((await call(c, c.resize, req(60 + i))).output!.width).toBe(60 + i);
      await new Promise((r) => setTimeout(r, 300)); // a few failed exports happen meanwhile
      expect((await call(c, c.resize, req(70))).output!.width).toBe(70);
      expect(svc.child.exitCode).toBeNull();
    } finally {
      c.close();
      await svc.stop();
    }
    expect(await svc.exited).toBe(0);
  });

  it('a caller-chosen request id that is too long or not a plain token is replaced', async () => {
    const before = otlp.spans.length;
    const md = new grpc.Metadata();
    md.set('x-request-id', `forged line {"level":60} ${'x'.repeat(300)}`);
    await new Promise((resolve, reject) => client.resize(req(91), md, { deadline: Date.now() + 20_000 }, (e, r) => (e ? reject(e) : resolve(r))));
    const spans = await otlp.waitFor((all) => all.slice(before).some((s) => s.name === METHOD));
    const id = String(spans.slice(before).find((s) => s.name === METHOD)!.attributes['imageflow.request_id']);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a call without trace context starts its own trace; a failed call is recorded with its code', async () => {
    const before = otlp.spans.length;
    await expect(call(client, client.resize, { ...req(90), source: { data: Buffer.from('not an image') } })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    const spans = await otlp.waitFor((all) => all.slice(before).some((s) => s.name === METHOD && s.attributes['rpc.grpc.status_code'] === 3));
    const failed = spans.slice(before).find((s) => s.name === METHOD && s.attributes['rpc.grpc.status_code'] === 3)!;
    expect(failed.parentSpanId).toBe('');
    // A caller's bad input is not a server fault: status stays unset, the reason is an attribute.
    expect(failed.statusCode).toBe(0);
    expect(String(failed.attributes['imageflow.error'])).toMatch(/cannot process image|not accepted/);
  });
});
