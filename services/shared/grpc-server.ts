// The lifecycle every gRPC process shares: bind, health (grpc.health.v1), reflection, optional
// mTLS, per-call logging/error mapping/bounded concurrency (the same core for grpc-js and the fast
// path of grpc-fast-unary.ts), and a graceful drain.
import { readFileSync } from 'node:fs';
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { toServiceError } from './errors.js';
import type { BufferPool } from './buffer-pool.js';
import { installFastUnary, type FastUnaryMethod, type UnaryCallHead, type UnaryOutcome } from './grpc-fast-unary.js';
import { Limiter } from './limiter.js';
import type { Logger } from './logger.js';
import { serviceMetrics } from './metrics.js';
import { SpanKind, activeTraceId, failSpan, tracer, tracingOn } from './tracing.js';
import { context as otelContext, propagation, trace, type Context, type Span } from '@opentelemetry/api';

export const REQUEST_ID_HEADER = 'x-request-id';
const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));

export interface CallContext {
  readonly requestId: string;
  readonly logger: Logger;
  /** Milliseconds left before the caller's deadline (Infinity when none was set). */
  readonly remainingMs: () => number;
}

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, clients must present a certificate signed by this CA (mTLS). */
  readonly caFile?: string;
}

export interface ServiceRegistration {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
  /** Fully-qualified name for health checks, e.g. imageflow.v1.ResizeService. */
  readonly healthName: string;
}

export interface GrpcServerOptions {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly maxMessageBytes: number;
  readonly services: readonly ServiceRegistration[];
  readonly logger: Logger;
  /** Proto files (relative to proto/) to serve over reflection. */
  readonly reflectionProtos?: readonly string[];
  readonly tls?: TlsFiles;
  /** Status reported until markServing() is called. @default 'SERVING' */
  readonly initialStatus?: ServingStatus;
  /** HTTP/2 streams per connection; more wait on the client side (back-pressure before bytes arrive). @default grpc-js' */
  readonly maxConcurrentStreams?: number;
  /**
   * HTTP/2 receive window per stream and per connection. grpc-js' server keeps HTTP/2's 64 KiB,
   * so a client sending a 4.5 MB image waits for ~70 window updates, each a wake-up on both ends.
   * @default HTTP/2's 65 535 bytes
   */
  readonly flowControlWindowBytes?: number;
  /** Serve the services' unary methods from the HTTP/2 streams directly (grpc-fast-unary.ts). @default true */
  readonly fastUnary?: boolean;
  /** Reused memory for large request messages on the fast path. @default none: a fresh buffer each */
  readonly messagePool?: BufferPool;
}

/**
 * grpc-js' HTTP/2 servers, through its private map of them (1.14): the receive windows and the
 * fast path need them. If a version drops the map, the service still works with grpc-js' defaults
 * and says so at start-up (tests/services/process-tuning.test.ts fails first).
 */
function grpcJsHttp2Servers(server: grpc.Server, logger: Logger): Http2Server[] {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (servers instanceof Map && servers.size > 0) return [...servers.keys()];
  logger.warn({ grpcJs: 'http2Servers not found' }, 'cannot reach grpc-js\' HTTP/2 servers: default receive windows, no fast path');
  return [];
}

/**
 * grpc-js has no server option for the HTTP/2 windows, so each new connection gets them here: a
 * SETTINGS frame raising every stream's window and a WINDOW_UPDATE raising the connection's.
 */
function widenReceiveWindows(http2Servers: readonly Http2Server[], bytes: number, logger: Logger): void {
  for (const http2Server of http2Servers) {
    http2Server.on('session', (session: ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: bytes });
        session.setLocalWindowSize(bytes);
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'could not widen the HTTP/2 receive window of a connection');
      }
    });
  }
}

export class GrpcServerHost {
  private draining = false;
  private constructor(
    readonly server: grpc.Server,
    readonly port: number,
    readonly health: HealthImplementation,
    private readonly healthNames: readonly string[],
    private readonly logger: Logger,
  ) {}

  static async start(options: GrpcServerOptions): Promise<GrpcServerHost> {
    const server = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': options.maxMessageBytes,
      // Clients such as the gateway keep channels open; accept their keepalive pings.
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 10_000,
      // Per-call bookkeeping for a channelz service nobody runs here.
      'grpc.enable_channelz': 0,
      ...(options.maxConcurrentStreams ? { 'grpc.max_concurrent_streams': options.maxConcurrentStreams } : {}),
    });
    const status = options.initialStatus ?? 'SERVING';
    const healthNames = ['', ...options.services.map((s) => s.healthName)];
    const health = new HealthImplementation(Object.fromEntries(healthNames.map((n) => [n, status])));
    health.addToServer(server);
    for (const s of options.services) server.addService(s.definition, s.implementation);
    if (options.reflectionProtos?.length) {
      const pkg = protoLoader.loadSync([...options.reflectionProtos], { includeDirs: [PROTO_ROOT] });
      new ReflectionService(pkg).addToServer(server);
    }
    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(
          options.tls.caFile ? readFileSync(options.tls.caFile) : null,
          [{ cert_chain: readFileSync(options.tls.certFile), private_key: readFileSync(options.tls.keyFile) }],
          Boolean(options.tls.caFile),
        )
      : grpc.ServerCredentials.createInsecure();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${options.host}:${options.port}`, credentials, (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    const http2Servers = grpcJsHttp2Servers(server, options.logger);
    if (options.flowControlWindowBytes) widenReceiveWindows(http2Servers, options.flowControlWindowBytes, options.logger);
    if (options.fastUnary ?? true) {
      installFastUnary(http2Servers, fastUnaryMethods(options.services), {
        maxReceiveBytes: options.maxMessageBytes,
        maxSendBytes: options.maxMessageBytes,
        logger: options.logger,
        pool: options.messagePool,
      });
    }
    return new GrpcServerHost(server, port, health, healthNames, options.logger);
  }

  setStatus(status: ServingStatus): void {
    for (const name of this.healthNames) this.health.setStatus(name, status);
  }

  /** Stops accepting calls, lets in-flight ones finish within graceMs, then forces the rest. */
  async drain(graceMs: number): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.setStatus('NOT_SERVING');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.logger.warn({ graceMs }, 'drain grace period over; cancelling remaining calls');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

export interface UnaryOptions {
  readonly logger: Logger;
  readonly limiter?: Limiter;
}

/** The transport-independent part of a unary method, which the fast path (grpc-fast-unary.ts) calls. */
const UNARY_CORE = Symbol('imageflow.unaryCore');
type UnaryHandler<Req, Res> = grpc.handleUnaryCall<Req, Res> & { readonly [UNARY_CORE]: (request: Req, head: UnaryCallHead) => Promise<UnaryOutcome<Res>> };

/**
 * Adapts an async handler to a gRPC method: request id from metadata (or a new one), one log line
 * per call, errors mapped to status codes, concurrency bounded by the limiter, a server span in
 * the caller's trace when tracing is on (W3C context from metadata) and Prometheus
 * duration/count/in-flight series. The same core serves grpc-js and the fast path.
 */
export function unary<Req, Res>(
  method: string,
  options: UnaryOptions,
  handler: (request: Req, ctx: CallContext) => Promise<Res>,
): UnaryHandler<Req, Res> {
  const core = async (request: Req, head: UnaryCallHead): Promise<UnaryOutcome<Res>> => {
    const started = performance.now();
    // '/imageflow.v1.ResizeService/Resize' names the span and the metric series.
    const fullMethod = head.path.replace(/^\//, '') || method;
    const metrics = serviceMetrics();
    metrics.inFlight.inc({ method: fullMethod });
    // Caller-chosen, so bounded and printable before it reaches every log line and span.
    const given = String(head.headers[REQUEST_ID_HEADER] ?? '');
    const requestId = /^[\w.:@/+=-]{1,128}$/.test(given) ? given : randomUUID();
    const traced = tracingOn() ? serverSpan(head.headers, fullMethod, requestId) : undefined;
    const traceId = traced && activeTraceId(traced.context);
    const logger = options.logger.child(traceId ? { requestId, method, traceId } : { requestId, method });
    const ctx: CallContext = {
      requestId,
      logger,
      remainingMs: () => (Number.isFinite(head.deadline) ? head.deadline - Date.now() : Infinity),
    };
    const finish = (code: grpc.status) => {
      const name = grpc.status[code] ?? String(code);
      const seconds = (performance.now() - started) / 1000;
      metrics.inFlight.dec({ method: fullMethod });
      metrics.calls.inc({ method: fullMethod, code: name });
      metrics.callDuration.observe({ method: fullMethod, code: name }, seconds);
      traced?.span.setAttribute('rpc.grpc.status_code', code);
      traced?.span.end();
    };
    const run = () => handler(request, ctx);
    const limited = () => (options.limiter ? options.limiter.run(run, inlineBytes(request)) : run());
    try {
      // The handler (and the storage/inference calls it makes) runs inside the server span.
      const value = await (traced ? otelContext.with(traced.context, limited) : limited());
      logger.info({ code: 'OK', ms: round(performance.now() - started) }, 'call done');
      finish(grpc.status.OK);
      return { ok: true, value };
    } catch (err) {
      const se = toServiceError(err);
      const level = se.code === grpc.status.INTERNAL || se.code === grpc.status.UNKNOWN ? 'error' : 'warn';
      logger[level]({ code: grpc.status[se.code], ms: round(performance.now() - started), err: se.message }, 'call failed');
      // Server-side errors only: a caller's bad input is not this service failing.
      if (traced && SERVER_FAULTS.has(se.code)) failSpan(traced.span, se);
      else traced?.span.setAttribute('imageflow.error', se.message);
      finish(se.code);
      return { ok: false, code: se.code, details: boundedDetails(se.message) };
    }
  };
  const grpcJs: grpc.handleUnaryCall<Req, Res> = (call, callback) => {
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    const head: UnaryCallHead = {
      path: typeof call.getPath === 'function' ? call.getPath() : `/${method}`,
      // Values may be arrays here; the core's String() and the W3C propagator take both.
      headers: call.metadata.toHttp2Headers() as IncomingHttpHeaders,
      deadline: Number.isFinite(deadlineMs) && deadlineMs > 0 ? deadlineMs : Infinity,
    };
    void core(call.request, head).then((outcome) =>
      outcome.ok ? callback(null, outcome.value) : callback({ code: outcome.code, details: outcome.details, metadata: new grpc.Metadata() } as grpc.ServiceError),
    );
  };
  return Object.assign(grpcJs, { [UNARY_CORE]: core });
}

/** The fast path's table: every unary method of these services whose handler unary() made. */
export function fastUnaryMethods(services: readonly ServiceRegistration[]): Map<string, FastUnaryMethod> {
  const methods = new Map<string, FastUnaryMethod>();
  for (const s of services) {
    for (const [name, def] of Object.entries(s.definition)) {
      const core = (s.implementation[name] as Partial<UnaryHandler<unknown, unknown>> | undefined)?.[UNARY_CORE];
      if (!core || def.requestStream || def.responseStream) continue;
      methods.set(def.path, { decode: def.requestDeserialize, encode: def.responseSerialize, run: core });
    }
  }
  return methods;
}

/**
 * A server span continuing the caller's trace (W3C `traceparent` read from the call's headers, as
 * http-tracing.ts reads them), and its context.
 */
function serverSpan(headers: IncomingHttpHeaders, fullMethod: string, requestId: string): { span: Span; context: Context } {
  const parent = propagation.extract(otelContext.active(), headers);
  const [rpcService, rpcMethod] = fullMethod.includes('/') ? fullMethod.split('/', 2) : ['', fullMethod];
  const span = tracer().startSpan(
    fullMethod,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': rpcService, 'rpc.method': rpcMethod, 'imageflow.request_id': requestId } },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/**
 * Status details travel in an HTTP/2 trailer; a message that echoes user input (10 000 unknown
 * class names) grew past the peer's header limit and hung the connection for every later call.
 */
const MAX_DETAILS_CHARS = 2_048;
function boundedDetails(details: string): string {
  if (details.length <= MAX_DETAILS_CHARS) return details;
  return `${details.slice(0, MAX_DETAILS_CHARS)}… (${details.length - MAX_DETAILS_CHARS} more characters)`;
}

/** Size of the inline image a request carries (ImageSource.data, shared by every image call). */
function inlineBytes(request: unknown): number {
  const data = (request as { source?: { data?: unknown } } | undefined)?.source?.data;
  return data instanceof Uint8Array ? data.byteLength : 0;
}

const SERVER_FAULTS = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

const round = (ms: number) => Math.round(ms * 100) / 100;
