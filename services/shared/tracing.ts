// OpenTelemetry tracing for every process. Off unless the standard OTEL_* variables ask for an
// exporter (then spans go out over OTLP/HTTP, configured by OTEL_EXPORTER_OTLP_* as usual). W3C
// trace context travels in gRPC metadata (`traceparent`), so one trace runs from the gateway's
// HTTP request through the service call into storage and inference.
import { context, propagation, trace, INVALID_SPAN_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Metadata } from '@grpc/grpc-js';

export { SpanKind };

const TRACER = 'imageflow';
export const tracer = () => trace.getTracer(TRACER);

export type ExporterKind = 'otlp' | 'console' | 'none';

let recording = false;
/**
 * Whether initTracing registered a tracer provider in this process. The per-request span code of
 * the gateway and the services checks it, so with tracing off a call skips that code entirely
 * instead of going through the API's no-op tracer.
 */
export const tracingOn = () => recording;

/**
 * What the standard variables ask for: OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn
 * tracing off; OTEL_TRACES_EXPORTER=otlp|console pick an exporter; unset, an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or ..._TRACES_ENDPOINT) turns OTLP on. Nothing set: off.
 */
export function exporterKindFromEnv(env: NodeJS.ProcessEnv = process.env): ExporterKind {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return 'none';
  const asked = env.OTEL_TRACES_EXPORTER?.split(',')[0]?.trim().toLowerCase();
  if (asked === 'otlp' || asked === 'console' || asked === 'none') return asked;
  if (asked) throw new Error(`OTEL_TRACES_EXPORTER=${JSON.stringify(asked)} is not supported; use otlp, console or none`);
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : 'none';
}

export interface Tracing {
  readonly enabled: boolean;
  /**
   * Flushes pending spans and stops exporting; call on shutdown. Bounded (default 2 s): an
   * unreachable collector must not hold a draining pod past its grace period.
   */
  shutdown(timeoutMs?: number): Promise<void>;
}

export interface TracingOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Export to this exporter, span by span (tests: an InMemorySpanExporter). Overrides the env. */
  readonly exporter?: SpanExporter;
}

/**
 * Registers the global tracer provider, propagator and async context for this process. The SDK
 * and the OTLP exporter are imported only when tracing is on: loaded, they are ~4 MB of a
 * service's ~30 MB heap, which every full collection marks (BENCHMARKS.md, finding 16).
 */
export async function initTracing(serviceName: string, options: TracingOptions = {}): Promise<Tracing> {
  const env = options.env ?? process.env;
  const kind = options.exporter ? undefined : exporterKindFromEnv(env);
  if (kind === 'none') return { enabled: false, shutdown: async () => {} };
  const [{ BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, SimpleSpanProcessor }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
  ]);
  let processor: SpanProcessor;
  if (options.exporter) {
    processor = new SimpleSpanProcessor(options.exporter);
  } else if (kind === 'otlp') {
    // Batch size, delay and queue come from OTEL_BSP_* inside the processor.
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processor = new BatchSpanProcessor(new OTLPTraceExporter());
  } else {
    processor = new BatchSpanProcessor(new ConsoleSpanExporter());
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || `imageflow-${serviceName}` }),
    spanProcessors: [processor],
  });
  // W3C traceparent/tracestate + baggage propagator and the AsyncLocalStorage context manager.
  provider.register();
  recording = true;
  return {
    enabled: true,
    shutdown: (timeoutMs = 2_000) => {
      let timer: NodeJS.Timeout | undefined;
      const giveUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
      return Promise.race([provider.shutdown().catch(() => {}), giveUp]).finally(() => clearTimeout(timer));
    },
  };
}

const metadataSetter = { set: (carrier: Metadata, key: string, value: string) => carrier.set(key, value) };

/** Writes the active trace context into outgoing gRPC metadata (a no-op when tracing is off). */
export function injectTraceContext(metadata: Metadata, ctx: Context = context.active()): Metadata {
  propagation.inject(ctx, metadata, metadataSetter);
  return metadata;
}

/** Adds the active trace context to outgoing request headers (a no-op when tracing is off). */
export function injectTraceHeaders(headers: Record<string, string>, ctx: Context = context.active()): Record<string, string> {
  propagation.inject(ctx, headers);
  return headers;
}

const NOT_RECORDING: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Runs fn in a child span of the active one; a thrown error marks the span failed. */
export async function withSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  if (!recording) return fn(NOT_RECORDING);
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failSpan(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

export function failSpan(span: Span, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (err instanceof Error) span.recordException(err);
}

/** The trace id of the active span, for log lines; undefined when nothing is recorded. */
export function activeTraceId(ctx: Context = context.active()): string | undefined {
  const span = trace.getSpan(ctx);
  return span?.isRecording() ? span.spanContext().traceId : undefined;
}
