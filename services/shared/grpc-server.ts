// The lifecycle every gRPC process shares: bind, health (grpc.health.v1), reflection, optional
// mTLS, per-call logging/error mapping/bounded concurrency, and a graceful drain.
import { readFileSync } from 'node:fs';
import type { Http2Server, ServerHttp2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { toServiceError } from './errors.js';
import { Limiter } from './limiter.js';
import type { Logger } from './logger.js';
import { serviceMetrics } from './metrics.js';
import { SpanKind, activeTraceId, contextFromMetadata, failSpan, tracer, tracingOn } from './tracing.js';
import { context as otelContext, trace, type Context, type Span } from '@opentelemetry/api';

export const REQUEST_ID_HEADER = 'x-request-id';
const PROTO_ROOT = fileURLToPath(new URL('../../proto', import.meta.url));

export interface CallContext {
  readonly requestId: string;
  readonly logger: Logger;
  readonly metadata: grpc.Metadata;
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
}

/**
 * grpc-js has no server option for the HTTP/2 windows, so each new connection gets them here: a
 * SETTINGS frame raising every stream's window and a WINDOW_UPDATE raising the connection's.
 * The sessions are reached through grpc-js' private map of its HTTP/2 servers (1.14); if a
 * version drops it, the service still works with the default windows and says so at start-up
 * (tests/services/process-tuning.test.ts fails first).
 */
function widenReceiveWindows(server: grpc.Server, bytes: number, logger: Logger): void {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    logger.warn({ grpcJs: 'http2Servers not found' }, 'cannot widen HTTP/2 receive windows; large requests will be slower');
    return;
  }
  for (const http2Server of servers.keys()) {
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
    if (options.flowControlWindowBytes) widenReceiveWindows(server, options.flowControlWindowBytes, options.logger);
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

/**
 * Adapts an async handler to grpc-js: request id from metadata (or a new one), one log line per
 * call, errors mapped to status codes, concurrency bounded by the limiter, a server span in the
 * caller's trace when tracing is on (W3C context from metadata) and Prometheus
 * duration/count/in-flight series.
 */
export function unary<Req, Res>(
  method: string,
  options: UnaryOptions,
  handler: (request: Req, ctx: CallContext) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    // '/imageflow.v1.ResizeService/Resize' names the span and the metric series.
    const path = typeof call.getPath === 'function' ? call.getPath() : `/${method}`;
    const fullMethod = path.replace(/^\//, '') || method;
    const metrics = serviceMetrics();
    metrics.inFlight.inc({ method: fullMethod });
    // Caller-chosen, so bounded and printable before it reaches every log line and span.
    const given = String(call.metadata.get(REQUEST_ID_HEADER)[0] ?? '');
    const requestId = /^[\w.:@/+=-]{1,128}$/.test(given) ? given : randomUUID();
    const traced = tracingOn() ? serverSpan(call.metadata, fullMethod, requestId) : undefined;
    const traceId = traced && activeTraceId(traced.context);
    const logger = options.logger.child(traceId ? { requestId, method, traceId } : { requestId, method });
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
    const ctx: CallContext = {
      requestId,
      logger,
      metadata: call.metadata,
      remainingMs: () => (Number.isFinite(deadlineMs) && deadlineMs > 0 ? deadlineMs - Date.now() : Infinity),
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
    const run = () => handler(call.request, ctx);
    const limited = () => (options.limiter ? options.limiter.run(run, inlineBytes(call.request)) : run());
    // The handler (and the storage/inference calls it makes) runs inside the server span.
    (traced ? otelContext.with(traced.context, limited) : limited()).then(
      (response) => {
        logger.info({ code: 'OK', ms: round(performance.now() - started) }, 'call done');
        finish(grpc.status.OK);
        callback(null, response);
      },
      (err: unknown) => {
        const se = toServiceError(err);
        const level = se.code === grpc.status.INTERNAL || se.code === grpc.status.UNKNOWN ? 'error' : 'warn';
        logger[level]({ code: grpc.status[se.code], ms: round(performance.now() - started), err: se.message }, 'call failed');
        // Server-side errors only: a caller's bad input is not this service failing.
        if (traced && SERVER_FAULTS.has(se.code)) failSpan(traced.span, se);
        else traced?.span.setAttribute('imageflow.error', se.message);
        finish(se.code);
        callback(boundedDetails(se.toGrpc()) as grpc.ServiceError);
      },
    );
  };
}

/** A server span continuing the caller's trace (W3C context from the metadata), and its context. */
function serverSpan(metadata: grpc.Metadata, fullMethod: string, requestId: string): { span: Span; context: Context } {
  const parent = contextFromMetadata(metadata, otelContext.active());
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
function boundedDetails<T extends { details?: string }>(e: T): T {
  if (!e.details || e.details.length <= MAX_DETAILS_CHARS) return e;
  return { ...e, details: `${e.details.slice(0, MAX_DETAILS_CHARS)}… (${e.details.length - MAX_DETAILS_CHARS} more characters)` };
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
