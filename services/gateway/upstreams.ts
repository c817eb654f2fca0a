// Persistent gRPC connections to the image services (./grpc-channel.ts), with a deadline on every
// call, retries with exponential backoff and jitter on UNAVAILABLE only (calls are idempotent:
// outputs have deterministic keys), a circuit breaker per service, the request id as metadata,
// and grpc.health.v1 checks over the same connections.
import { status } from '@grpc/grpc-js';
import { ResizeRequest, ResizeServiceService } from '../shared/gen/imageflow/v1/resize.js';
import { FilterRequest, FilterServiceService } from '../shared/gen/imageflow/v1/filter.js';
import { AiDetectionServiceService, DetectRequest } from '../shared/gen/imageflow/v1/ai_detection.js';
import { withInlineImageSerializers } from './wire.js';
import type { Logger } from '../shared/logger.js';
import { SpanKind, injectTraceHeaders, withSpan } from '../shared/tracing.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { GatewayConfig, UpstreamName } from './config.js';
import { GatewayError, fromGrpc, isGrpcError, unavailable } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import { CallError, GrpcChannel } from './grpc-channel.js';

export const REQUEST_ID_METADATA = 'x-request-id';

export interface CallContext {
  readonly requestId: string;
  /** Absolute deadline (ms since the epoch) for the call, retries included. */
  readonly deadline: number;
  /** Aborts the call (the HTTP client went away). */
  readonly signal?: AbortSignal;
}

/** A unary method of a generated service definition (ts-proto, outputServices=grpc-js). */
interface UnaryDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (value: Req) => Buffer;
  readonly responseDeserialize: (value: Buffer) => Res;
}
type ServiceDefinition = Record<string, UnaryDefinition<never, unknown>>;
export type RequestOf<M> = M extends UnaryDefinition<infer Req, unknown> ? Req : never;
export type ResponseOf<M> = M extends UnaryDefinition<never, infer Res> ? Res : never;

export type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' | 'UNREACHABLE' | 'NOT_CONFIGURED';

const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
const HEALTH_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

/**
 * grpc.health.v1.HealthCheckResponse is one enum field (1): `08 <status>`, or nothing for
 * UNKNOWN (0). The request for the whole server (service "") is the empty message.
 */
function healthStatusOf(message: Buffer): HealthStatus {
  if (message.length === 0) return 'UNKNOWN';
  return message[0] === 0x08 && message.length === 2 ? (HEALTH_STATUS[message[1]] ?? 'UNKNOWN') : 'UNKNOWN';
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export interface UpstreamOptions {
  readonly name: UpstreamName;
  readonly endpoint: string;
  readonly config: GatewayConfig;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
}

/** One upstream service: persistent connections (round-robin), its breaker, its health check. */
export class Upstream<D extends ServiceDefinition> {
  readonly name: UpstreamName;
  readonly endpoint: string;
  /** Calls take the next connection in turn. */
  private readonly channels: GrpcChannel[];
  private next = 0;
  readonly breaker: CircuitBreaker;
  private readonly config: GatewayConfig;
  private readonly metrics: GatewayMetrics;

  constructor(
    private readonly definition: D,
    options: UpstreamOptions,
  ) {
    this.name = options.name;
    this.endpoint = options.endpoint;
    this.config = options.config;
    this.metrics = options.metrics;
    this.channels = Array.from(
      { length: this.config.grpcChannelsPerUpstream },
      () =>
        new GrpcChannel({
          target: this.endpoint,
          tls: this.config.grpcTls,
          maxSendBytes: this.config.grpcMaxMessageBytes,
          maxReceiveBytes: this.config.grpcMaxMessageBytes,
          windowBytes: this.config.grpcFlowControlWindowBytes,
          keepaliveMs: this.config.grpcKeepaliveMs,
          maxBackoffMs: this.config.grpcMaxReconnectBackoffMs,
        }),
    );
    this.breaker = new CircuitBreaker({
      failureThreshold: this.config.breaker.failureThreshold,
      openMs: this.config.breaker.openMs,
      onStateChange: (state) => {
        this.metrics.setCircuitState(this.name, state);
        const log = state === 'open' ? options.logger.warn.bind(options.logger) : options.logger.info.bind(options.logger);
        log({ upstream: this.name, state }, `circuit ${state}`);
      },
    });
    this.metrics.circuitState.set({ upstream: this.name }, 0);
  }

  /** One unary call with the deadline, retries and breaker. Failures are GatewayErrors. */
  async call<K extends keyof D & string>(key: K, request: RequestOf<D[K]>, ctx: CallContext): Promise<ResponseOf<D[K]>> {
    const method = this.definition[key] as unknown as UnaryDefinition<RequestOf<D[K]>, ResponseOf<D[K]>>;
    const name = method.path.slice(method.path.lastIndexOf('/') + 1);
    // A client span per call (retries included); the service's span continues it through the metadata.
    return withSpan(`${this.name}/${name}`, { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.method': name, 'imageflow.request_id': ctx.requestId } }, () => {
      const metadata = injectTraceHeaders({ [REQUEST_ID_METADATA]: ctx.requestId });
      return this.attempts(name, method, request, ctx, metadata);
    });
  }

  private async attempts<Req, Res>(name: string, method: UnaryDefinition<Req, Res>, request: Req, ctx: CallContext, metadata: Record<string, string>): Promise<Res> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.config.retry;
    for (let attempt = 1; ; attempt++) {
      const permit = this.breaker.tryAcquire();
      if (!permit) {
        const retryAfterS = Math.max(1, Math.ceil(this.breaker.retryAfterMs() / 1000));
        throw unavailable(`${this.name} service unavailable: circuit open after repeated failures; retry in ${retryAfterS} s`, retryAfterS);
      }
      const started = performance.now();
      try {
        const channel = this.channels[this.next++ % this.channels.length];
        // Serialized per attempt: the first may write into the image body's headroom (wire.ts).
        const message = await channel.call({ path: method.path, message: method.requestSerialize(request), metadata, deadline: ctx.deadline, signal: ctx.signal });
        const response = method.responseDeserialize(message);
        this.observe(name, 'OK', started);
        permit.success();
        return response;
      } catch (err) {
        if (!isGrpcError(err)) {
          permit.neutral();
          throw err;
        }
        this.observe(name, status[err.code] ?? String(err.code), started);
        const busy = err.code === status.UNAVAILABLE && /^busy\b/.test(err.details);
        if (err.code === status.UNAVAILABLE && !busy) permit.failure();
        else if (err.code === status.DEADLINE_EXCEEDED && !ctx.signal?.aborted) permit.failure();
        else if (err.code === status.CANCELLED || busy) permit.neutral();
        else permit.success(); // the service answered: it is up, the request was wrong
        const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        // "Equal jitter": at least half the backoff, so retries of many callers spread out.
        const wait = delay / 2 + Math.random() * (delay / 2);
        const retry = err.code === status.UNAVAILABLE && attempt < maxAttempts && Date.now() + wait < ctx.deadline && !ctx.signal?.aborted;
        if (!retry) throw fromGrpc(err, this.name);
        this.metrics.upstreamRetries.inc({ upstream: this.name });
        await sleep(wait, ctx.signal);
      }
    }
  }

  private observe(method: string, code: string, started: number): void {
    this.metrics.upstreamDuration.observe({ upstream: this.name, method, code }, (performance.now() - started) / 1000);
  }

  /** grpc.health.v1 Check of the whole server (service ""), over a connection the calls use. */
  async checkHealth(timeoutMs: number): Promise<HealthStatus> {
    try {
      const message = await this.channels[0].call({ path: HEALTH_CHECK_PATH, message: new Uint8Array(0), metadata: {}, deadline: Date.now() + timeoutMs });
      return healthStatusOf(message);
    } catch (err) {
      return err instanceof CallError && err.code === status.NOT_FOUND ? 'SERVICE_UNKNOWN' : 'UNREACHABLE';
    }
  }

  refreshMetrics(): void {
    this.metrics.circuitState.set({ upstream: this.name }, { closed: 0, 'half-open': 1, open: 2 }[this.breaker.state]);
  }

  close(): void {
    for (const c of this.channels) c.close();
  }
}

/** The generated definitions with request serializers that write an inline image without copies (./wire.ts). */
const RESIZE = withInlineImageSerializers(ResizeServiceService, { resize: ResizeRequest });
const FILTER = withInlineImageSerializers(FilterServiceService, { filter: FilterRequest });
const DETECTION = withInlineImageSerializers(AiDetectionServiceService, { detect: DetectRequest });

export interface Upstreams {
  readonly resize?: Upstream<typeof RESIZE>;
  readonly filter?: Upstream<typeof FILTER>;
  readonly detection?: Upstream<typeof DETECTION>;
}

export function createUpstreams(config: GatewayConfig, metrics: GatewayMetrics, logger: Logger): Upstreams {
  const make = <D extends ServiceDefinition>(name: UpstreamName, definition: D) => {
    const endpoint = config.endpoints[name];
    return endpoint ? new Upstream(definition, { name, endpoint, config, metrics, logger }) : undefined;
  };
  return {
    resize: make('resize', RESIZE),
    filter: make('filter', FILTER),
    detection: make('detection', DETECTION),
  };
}

export const UPSTREAM_NAMES: readonly UpstreamName[] = ['resize', 'filter', 'detection'];

export function upstreamList(upstreams: Upstreams): Array<Upstream<ServiceDefinition>> {
  return UPSTREAM_NAMES.map((n) => upstreams[n] as Upstream<ServiceDefinition> | undefined).filter((u): u is Upstream<ServiceDefinition> => u !== undefined);
}

/** The upstream, or a 503 naming the variable that would configure it. */
export function requireUpstream<K extends UpstreamName>(upstreams: Upstreams, name: K): NonNullable<Upstreams[K]> {
  const u = upstreams[name];
  if (!u) {
    const variable = { resize: 'RESIZE_GRPC_ENDPOINT', filter: 'FILTER_GRPC_ENDPOINT', detection: 'AI_DETECTION_GRPC_ENDPOINT' }[name];
    throw unavailable(`the ${name} service is not configured on this gateway (set ${variable})`, 60);
  }
  return u as NonNullable<Upstreams[K]>;
}
