// Persistent gRPC channels to the image services, with a deadline on every call, retries with
// exponential backoff and jitter on UNAVAILABLE only (calls are idempotent: outputs have
// deterministic keys), a circuit breaker per service, the request id as metadata, and
// grpc.health.v1 checks over the same channel.
import * as grpc from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import { ResizeRequest, ResizeServiceService, type ResizeServiceClient } from '../shared/gen/imageflow/v1/resize.js';
import { FilterRequest, FilterServiceService, type FilterServiceClient } from '../shared/gen/imageflow/v1/filter.js';
import { AiDetectionServiceService, DetectRequest, type AiDetectionServiceClient } from '../shared/gen/imageflow/v1/ai_detection.js';
import { withInlineImageSerializers } from './wire.js';
import type { Logger } from '../shared/logger.js';
import { SpanKind, injectTraceContext, withSpan } from '../shared/tracing.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { GatewayConfig, UpstreamName } from './config.js';
import { GatewayError, fromGrpc, isGrpcError, unavailable } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

export const REQUEST_ID_METADATA = 'x-request-id';

export interface CallContext {
  readonly requestId: string;
  /** Absolute deadline (ms since the epoch) for the call, retries included. */
  readonly deadline: number;
  /** Aborts the call (the HTTP client went away). */
  readonly signal?: AbortSignal;
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

export type HealthStatus = 'SERVING' | 'NOT_SERVING' | 'UNKNOWN' | 'SERVICE_UNKNOWN' | 'UNREACHABLE' | 'NOT_CONFIGURED';

interface HealthClient extends grpc.Client {
  check(
    req: { service: string },
    metadata: grpc.Metadata,
    options: Partial<grpc.CallOptions>,
    cb: (err: grpc.ServiceError | null, res: { status: string | number }) => void,
  ): grpc.ClientUnaryCall;
}
const HealthClientCtor = grpc.makeGenericClientConstructor(
  healthServiceDefinition as unknown as grpc.ServiceDefinition,
  'grpc.health.v1.Health',
) as unknown as new (address: string, creds: grpc.ChannelCredentials, options: Partial<grpc.ClientOptions>) => HealthClient;

const HEALTH_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

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

/** One upstream service: persistent channels (round-robin), its breaker, its health check. */
export class Upstream<C extends grpc.Client> {
  readonly name: UpstreamName;
  readonly endpoint: string;
  /** One client per HTTP/2 connection; every call picks the next. */
  private readonly clients: C[];
  private next = 0;
  readonly breaker: CircuitBreaker;
  private readonly health: HealthClient;
  private readonly config: GatewayConfig;
  private readonly metrics: GatewayMetrics;

  constructor(Ctor: new (address: string, creds: grpc.ChannelCredentials, options: Partial<grpc.ClientOptions>) => C, options: UpstreamOptions) {
    this.name = options.name;
    this.endpoint = options.endpoint;
    this.config = options.config;
    this.metrics = options.metrics;
    const channelOptions: Partial<grpc.ClientOptions> = {
      'grpc.max_receive_message_length': this.config.grpcMaxMessageBytes,
      'grpc.max_send_message_length': this.config.grpcMaxMessageBytes,
      'grpc.keepalive_time_ms': this.config.grpcKeepaliveMs,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': this.config.grpcMaxReconnectBackoffMs,
      // Retries are ours (with the breaker's view of them), not the channel's.
      'grpc.enable_retries': 0,
      'grpc-node.flow_control_window': this.config.grpcFlowControlWindowBytes,
      // Each client gets its own connection (grpc-js would otherwise share one subchannel).
      'grpc.use_local_subchannel_pool': 1,
    };
    const credentials = this.config.grpcCredentials;
    this.clients = Array.from({ length: this.config.grpcChannelsPerUpstream }, () => new Ctor(this.endpoint, credentials, channelOptions));
    // The health client shares the first channel: /ready checks a connection the calls use.
    this.health = new HealthClientCtor(this.endpoint, credentials, {
      ...channelOptions,
      channelOverride: this.clients[0].getChannel() as grpc.Channel,
    });
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
  async call<Req, Res>(method: string, fn: (client: C) => UnaryMethod<Req, Res>, request: Req, ctx: CallContext): Promise<Res> {
    // A client span per call (retries included); the service's span continues it through the metadata.
    return withSpan(`${this.name}/${method}`, { kind: SpanKind.CLIENT, attributes: { 'rpc.system': 'grpc', 'rpc.method': method, 'imageflow.request_id': ctx.requestId } }, () => {
      const metadata = new grpc.Metadata();
      metadata.set(REQUEST_ID_METADATA, ctx.requestId);
      injectTraceContext(metadata);
      return this.attempts(method, fn, request, ctx, metadata);
    });
  }

  private async attempts<Req, Res>(method: string, fn: (client: C) => UnaryMethod<Req, Res>, request: Req, ctx: CallContext, metadata: grpc.Metadata): Promise<Res> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.config.retry;
    for (let attempt = 1; ; attempt++) {
      const permit = this.breaker.tryAcquire();
      if (!permit) {
        const retryAfterS = Math.max(1, Math.ceil(this.breaker.retryAfterMs() / 1000));
        throw unavailable(`${this.name} service unavailable: circuit open after repeated failures; retry in ${retryAfterS} s`, retryAfterS);
      }
      const started = performance.now();
      try {
        const client = this.clients[this.next++ % this.clients.length];
        const response = await this.once(client, fn(client), request, metadata, ctx);
        this.observe(method, 'OK', started);
        permit.success();
        return response;
      } catch (err) {
        if (!isGrpcError(err)) {
          permit.neutral();
          throw err;
        }
        this.observe(method, grpc.status[err.code] ?? String(err.code), started);
        const busy = err.code === grpc.status.UNAVAILABLE && /^busy\b/.test(err.details);
        if (err.code === grpc.status.UNAVAILABLE && !busy) permit.failure();
        else if (err.code === grpc.status.DEADLINE_EXCEEDED && !ctx.signal?.aborted) permit.failure();
        else if (err.code === grpc.status.CANCELLED || busy) permit.neutral();
        else permit.success(); // the service answered: it is up, the request was wrong
        const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
        // "Equal jitter": at least half the backoff, so retries of many callers spread out.
        const wait = delay / 2 + Math.random() * (delay / 2);
        const retry =
          err.code === grpc.status.UNAVAILABLE && attempt < maxAttempts && Date.now() + wait < ctx.deadline && !ctx.signal?.aborted;
        if (!retry) throw fromGrpc(err, this.name);
        this.metrics.upstreamRetries.inc({ upstream: this.name });
        await sleep(wait, ctx.signal);
      }
    }
  }

  private once<Req, Res>(client: C, method: UnaryMethod<Req, Res>, request: Req, metadata: grpc.Metadata, ctx: CallContext): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (ctx.signal?.aborted) {
        reject(new GatewayError(grpc.status.CANCELLED, 'the client closed the request'));
        return;
      }
      const call = method.call(client, request, metadata, { deadline: new Date(ctx.deadline) }, (err, response) => {
        ctx.signal?.removeEventListener('abort', cancel);
        if (err) reject(err);
        else resolve(response);
      });
      const cancel = () => call.cancel();
      ctx.signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  private observe(method: string, code: string, started: number): void {
    this.metrics.upstreamDuration.observe({ upstream: this.name, method, code }, (performance.now() - started) / 1000);
  }

  /** grpc.health.v1 Check of the whole server (service ""), over the call channel. */
  async checkHealth(timeoutMs: number): Promise<HealthStatus> {
    return new Promise((resolve) => {
      this.health.check({ service: '' }, new grpc.Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
        if (err) {
          resolve(err.code === grpc.status.NOT_FOUND ? 'SERVICE_UNKNOWN' : 'UNREACHABLE');
          return;
        }
        const s = typeof res.status === 'number' ? HEALTH_STATUS[res.status] : res.status;
        resolve((s as HealthStatus | undefined) ?? 'UNKNOWN');
      });
    });
  }

  refreshMetrics(): void {
    this.metrics.circuitState.set({ upstream: this.name }, { closed: 0, 'half-open': 1, open: 2 }[this.breaker.state]);
  }

  close(): void {
    this.health.close();
    for (const c of this.clients) c.close();
  }
}

export interface Upstreams {
  readonly resize?: Upstream<ResizeServiceClient>;
  readonly filter?: Upstream<FilterServiceClient>;
  readonly detection?: Upstream<AiDetectionServiceClient>;
}

type ClientCtor<C> = new (address: string, creds: grpc.ChannelCredentials, options: Partial<grpc.ClientOptions>) => C;

/** A generated client whose request serializers write an inline image without copies (./wire.ts). */
const inlineImageClient = <C>(definition: grpc.ServiceDefinition, codecs: Parameters<typeof withInlineImageSerializers>[1], name: string) =>
  grpc.makeGenericClientConstructor(withInlineImageSerializers(definition, codecs), name) as unknown as ClientCtor<C>;
const ResizeClient = inlineImageClient<ResizeServiceClient>(ResizeServiceService, { resize: ResizeRequest }, 'imageflow.v1.ResizeService');
const FilterClient = inlineImageClient<FilterServiceClient>(FilterServiceService, { filter: FilterRequest }, 'imageflow.v1.FilterService');
const DetectionClient = inlineImageClient<AiDetectionServiceClient>(AiDetectionServiceService, { detect: DetectRequest }, 'imageflow.v1.AiDetectionService');

export function createUpstreams(config: GatewayConfig, metrics: GatewayMetrics, logger: Logger): Upstreams {
  const make = <C extends grpc.Client>(name: UpstreamName, Ctor: new (a: string, c: grpc.ChannelCredentials, o: Partial<grpc.ClientOptions>) => C) => {
    const endpoint = config.endpoints[name];
    return endpoint ? new Upstream(Ctor, { name, endpoint, config, metrics, logger }) : undefined;
  };
  return {
    resize: make('resize', ResizeClient),
    filter: make('filter', FilterClient),
    detection: make('detection', DetectionClient),
  };
}

export const UPSTREAM_NAMES: readonly UpstreamName[] = ['resize', 'filter', 'detection'];

export function upstreamList(upstreams: Upstreams): Array<Upstream<grpc.Client>> {
  return UPSTREAM_NAMES.map((n) => upstreams[n] as Upstream<grpc.Client> | undefined).filter((u): u is Upstream<grpc.Client> => u !== undefined);
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
