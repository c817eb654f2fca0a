// One trace from an HTTP caller through the gateway's gRPC call into the service's storage reads
// and writes: every process exports over OTLP/HTTP (standard OTEL_* variables) to a receiver in
// the test, the test's own spans go to an in-memory exporter, and the parent links are checked
// hop by hop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanKind, context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { initTracing, tracer, type Tracing } from '../../services/shared/tracing.js';
import { makePhoto } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { startService } from '../support/services.js';
import { type RunningGateway, request, startGateway } from '../gateway/support.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp-receiver.js';

let s3: TestS3;
let otlp: OtlpReceiver;
let resize: ServiceProcess;
let gw: RunningGateway;
let tracing: Tracing;
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  tracing = await initTracing('e2e-client', { exporter });
  [s3, otlp] = await Promise.all([startTestS3(), startOtlpReceiver()]);
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_BSP_SCHEDULE_DELAY: '100' };
  resize = await startService('resize', { ...s3.env, ...otel, METRICS_PORT: '0' });
  gw = await startGateway({ ...s3.env, ...otel, RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}` });
  await s3.storage.write({ bucket: 'imageflow', key: 'trace/in.jpg' }, await makePhoto(320, 240), 'image/jpeg');
});

afterAll(async () => {
  await gw?.stop();
  await resize?.stop();
  await Promise.all([s3?.stop(), otlp?.close(), tracing?.shutdown()]);
});

describe('HTTP → gateway → gRPC → storage, one trace', () => {
  it('links every hop to its parent', async () => {
    const root = tracer().startSpan('argo step', { kind: SpanKind.CLIENT });
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), root), headers);
    const a = await request(gw.base, '/v1/resize', { json: { input: { key: 'trace/in.jpg' }, width: 64 }, headers });
    root.end();
    expect(a.status, a.bytes.toString()).toBe(200);
    const traceId = root.spanContext().traceId;

    const want = ['POST /v1/resize', 'imageflow.v1.ResizeService/Resize', 's3 read', 's3 write'];
    const all = await otlp.waitFor((spans) => {
      const names = spans.filter((s) => s.traceId === traceId).map((s) => s.name);
      return want.every((n) => names.includes(n)) && spans.some((s) => s.traceId === traceId && s.service === 'imageflow-gateway' && s.kind === 3);
    });
    const mine = all.filter((s) => s.traceId === traceId);
    const one = (pred: (s: ReceivedSpan) => boolean, what: string) => {
      const found = mine.filter(pred);
      expect(found, `${what}: ${mine.map((s) => `${s.service}:${s.name}`).join(', ')}`).toHaveLength(1);
      return found[0];
    };
    const httpSpan = one((s) => s.service === 'imageflow-gateway' && s.name === 'POST /v1/resize', 'gateway HTTP span');
    const grpcClient = one((s) => s.service === 'imageflow-gateway' && s.kind === 3 /* CLIENT */, 'gateway gRPC client span');
    const grpcServer = one((s) => s.service === 'imageflow-resize' && s.name === 'imageflow.v1.ResizeService/Resize', 'resize server span');
    const read = one((s) => s.name === 's3 read', 's3 read');
    const write = one((s) => s.name === 's3 write', 's3 write');

    expect(httpSpan.parentSpanId).toBe(root.spanContext().spanId);
    expect(httpSpan.attributes['http.response.status_code']).toBe(200);
    expect(grpcClient.parentSpanId).toBe(httpSpan.spanId);
    expect(grpcServer.parentSpanId).toBe(grpcClient.spanId);
    expect(read.parentSpanId).toBe(grpcServer.spanId);
    expect(write.parentSpanId).toBe(grpcServer.spanId);
    expect(read.service).toBe('imageflow-resize');
    // The test's own root went to the in-memory exporter.
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toContain(traceId);
  });
});
