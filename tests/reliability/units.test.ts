// In-process checks of the small reliability/security building blocks: the per-key rate limiter,
// the HTTP server span of a Fastify app and its hand-over to gRPC metadata, the tracing switch
// read from OTEL_* variables, and the client TLS settings.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyInstance } from 'fastify';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { RateLimiter } from '../../services/shared/rate-limit.js';
import { registerHttpTracing } from '../../services/shared/http-tracing.js';
import { exporterKindFromEnv, initTracing, injectTraceContext, type Tracing } from '../../services/shared/tracing.js';
import { clientTlsFiles } from '../../services/shared/grpc-client-tls.js';
import { ConfigError } from '../../services/shared/config.js';

describe('RateLimiter (token bucket per key)', () => {
  it('allows the burst, then the sustained rate, and says when to retry', () => {
    const rl = new RateLimiter({ ratePerSec: 2, burst: 3 });
    const at = (ms: number) => rl.take('key-a', ms);
    expect([at(0), at(0), at(0)].every((d) => d.allowed)).toBe(true);
    expect(at(0)).toEqual({ allowed: false, retryAfterS: 1 });
    expect(at(499).allowed).toBe(false);
    expect(at(500).allowed).toBe(true); // one token per 500 ms
    expect(at(600).allowed).toBe(false);
    // Keys are independent.
    expect(rl.take('key-b', 600).allowed).toBe(true);
  });

  it('a slow rate gives a Retry-After of several seconds', () => {
    const rl = new RateLimiter({ ratePerSec: 0.2, burst: 1 });
    expect(rl.take('k', 0).allowed).toBe(true);
    expect(rl.take('k', 0)).toEqual({ allowed: false, retryAfterS: 5 });
  });

  it('remembers at most maxKeys callers, forgetting the least recent', () => {
    const rl = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 100 });
    for (let i = 0; i < 1000; i++) rl.take(`k${i}`, 0);
    expect(rl.size).toBe(100);
    expect(rl.take('k999', 0).allowed).toBe(false); // still remembered: empty
    expect(rl.take('k0', 0).allowed).toBe(true); // forgotten: a fresh bucket
  });

  it('refuses a non-positive rate', () => {
    expect(() => new RateLimiter({ ratePerSec: 0 })).toThrow(/ratePerSec must be > 0/);
  });
});

describe('tracing switch from OTEL_* variables', () => {
  it.each([
    [{}, 'none'],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'otlp'],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, 'otlp'],
    [{ OTEL_TRACES_EXPORTER: 'console' }, 'console'],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'none'],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, 'none'],
  ] as Array<[NodeJS.ProcessEnv, string]>)('%j → %s', (env, kind) => {
    expect(exporterKindFromEnv(env)).toBe(kind);
  });
  it('names an unsupported exporter', () => {
    expect(() => exporterKindFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER="zipkin" is not supported/);
  });
});

describe('HTTP server span (Fastify) → gRPC metadata', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let app: FastifyInstance;
  beforeAll(async () => {
    tracing = await initTracing('units', { exporter });
    app = Fastify();
    registerHttpTracing(app);
    app.post('/v1/echo', async (request) => {
      // Simulates the gateway's upstream call: what would go out in gRPC metadata.
      await new Promise((r) => setTimeout(r, 5));
      const md = injectTraceContext(new grpc.Metadata());
      return { traceparent: md.get('traceparent')[0] ?? null, body: request.body };
    });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await tracing.shutdown();
  });

  it('continues the caller trace and makes the span active in the handler, after body parsing', async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await app.inject({
      method: 'POST',
      url: '/v1/echo',
      headers: { traceparent: `00-${callerTrace}-${callerSpan}-01`, 'content-type': 'application/json' },
      payload: JSON.stringify({ big: 'x'.repeat(200_000) }),
    });
    expect(res.statusCode).toBe(200);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'POST /v1/echo')!;
    expect(span.spanContext().traceId).toBe(callerTrace);
    expect(span.parentSpanContext?.spanId).toBe(callerSpan);
    expect(span.attributes['http.response.status_code']).toBe(200);
    // The handler's outgoing metadata names this span as the parent of the next hop.
    expect(res.json().traceparent).toBe(`00-${callerTrace}-${span.spanContext().spanId}-01`);
  });

  it('starts a new trace when the caller sent none', async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/echo', payload: {} });
    expect(res.json().traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});

describe('client TLS settings (GRPC_TLS_* on the calling side)', () => {
  it('plaintext when unset; clear errors for half a configuration', () => {
    expect(clientTlsFiles({})).toBeUndefined();
    expect(() => clientTlsFiles({ GRPC_TLS_CERT_FILE: '/x.crt' })).toThrow(ConfigError);
    expect(() => clientTlsFiles({ GRPC_TLS_CERT_FILE: '/x.crt', GRPC_TLS_KEY_FILE: '/x.key' })).toThrow(/GRPC_TLS_CA_FILE is required/);
    expect(() => clientTlsFiles({ GRPC_TLS_CA_FILE: '/nonexistent/ca.crt' })).toThrow(/GRPC_TLS_CA_FILE="\/nonexistent\/ca.crt": cannot read it/);
  });
});

describe('ByteBudget (admission by request bytes)', () => {
  it('admits while under budget, refuses past it, and frees on release (once)', async () => {
    const { ByteBudget } = await import('../../services/shared/byte-budget.js');
    const b = new ByteBudget(100);
    const r1 = b.tryAcquire(60)!;
    expect(b.tryAcquire(50)).toBeUndefined();
    const r2 = b.tryAcquire(40)!;
    expect(b.inUse).toBe(100);
    r1();
    r1(); // idempotent
    expect(b.inUse).toBe(40);
    expect(b.tryAcquire(60)).toBeDefined();
    r2();
  });
  it('admits one request larger than the budget when nothing else is in flight', async () => {
    const { ByteBudget } = await import('../../services/shared/byte-budget.js');
    const b = new ByteBudget(10);
    const big = b.tryAcquire(50)!;
    expect(big).toBeDefined();
    expect(b.tryAcquire(1)).toBeUndefined();
    big();
    expect(b.tryAcquire(1)).toBeDefined();
  });
});
