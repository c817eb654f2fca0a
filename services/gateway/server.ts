// Builds the gateway's Fastify app (importable by tests and benchmarks): validation through the
// zod type provider, raw image bodies, request ids, auth, metrics, the one error shape, the
// routes, and closing the upstream channels when the app closes.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifySchemaCompiler } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ZodType } from 'zod';
import { createLogger, type Logger } from '../shared/logger.js';
import { registerHttpTracing } from '../shared/http-tracing.js';
import { RateLimiter } from '../shared/rate-limit.js';
import { ByteBudget } from '../shared/byte-budget.js';
import { bearerChecker, bucketChecker } from './auth.js';
import type { GatewayConfig } from './config.js';
import { GatewayError, errorBody, toGatewayError, unavailable } from './errors.js';
import { GatewayMetrics } from './metrics.js';
import { readBodyWithHeadroom } from './headroom.js';
import { BufferPool, DEFAULT_MAX_RETAINED_BYTES, release } from '../shared/buffer-pool.js';
import { IMAGE_CONTENT_TYPE } from './raw-mode.js';
import type { RouteDeps } from './routes/context.js';
import { healthRoutes } from './routes/health.js';
import { RAW_ROUTES, imageRoutes } from './routes/images.js';
import { metaRoutes } from './routes/meta.js';
import { pipelineRoutes } from './routes/pipeline.js';
import { createUpstreams, upstreamList, type Upstreams } from './upstreams.js';
import { status } from '@grpc/grpc-js';

export const REQUEST_ID_HEADER = 'x-request-id';
const VALID_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

export interface Gateway {
  readonly app: FastifyInstance;
  readonly upstreams: Upstreams;
  readonly metrics: GatewayMetrics;
  readonly config: GatewayConfig;
}

export interface BuildOptions {
  readonly logger?: Logger;
  /** Collect process metrics (off when several gateways share a process). @default true */
  readonly defaultMetrics?: boolean;
}

/** Zod validation, except that raw-mode routes let image bodies (Buffers) through to their handler. */
const validator: FastifySchemaCompiler<ZodType> = (route) => {
  const validate = validatorCompiler(route);
  if (route.httpPart !== 'body') return validate;
  const raw = RAW_ROUTES.has(route.url);
  return (data) => {
    if (!Buffer.isBuffer(data)) return validate(data);
    if (raw) return { value: data };
    return { error: new GatewayError(status.INVALID_ARGUMENT, `${route.url} takes a JSON body (Content-Type: application/json)`, { httpStatus: 415 }) };
  };
};

export async function buildGateway(config: GatewayConfig, options: BuildOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger('gateway', config.logLevel);
  const metrics = new GatewayMetrics({ defaultMetrics: options.defaultMetrics });
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request is logged in onResponse (with route and timing) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers[REQUEST_ID_HEADER];
      return typeof given === 'string' && VALID_REQUEST_ID.test(given) ? given : randomUUID();
    },
    bodyLimit: config.maxBodyBytes,
    // While draining, new requests on kept-alive connections get the 503 of onRequest below.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  // First, so the server span covers auth and validation failures too (a no-op when tracing is off).
  registerHttpTracing(app);
  app.setValidatorCompiler(validator);
  app.setSerializerCompiler(serializerCompiler);
  // Raw bodies reuse memory (../shared/buffer-pool.ts); it never keeps more than the bodies admitted at once.
  const bodyPool = new BufferPool({ maxRetainedBytes: Math.min(DEFAULT_MAX_RETAINED_BYTES, config.maxInflightRequestBytes || Infinity) });
  metrics.observeBufferPool(bodyPool);
  app.addContentTypeParser(IMAGE_CONTENT_TYPE, (_request: unknown, payload: IncomingMessage) => readBodyWithHeadroom(payload, config.maxBodyBytes, bodyPool));

  const upstreams = createUpstreams(config, metrics, logger);
  app.addHook('onClose', async () => {
    for (const u of upstreamList(upstreams)) u.close();
  });

  const checkAuth = config.apiKeys ? bearerChecker(config.apiKeys) : undefined;
  const limiter = config.rateLimit ? new RateLimiter(config.rateLimit) : undefined;
  const budget = config.maxInflightRequestBytes > 0 ? new ByteBudget(config.maxInflightRequestBytes) : undefined;
  if (!checkAuth) logger.warn('GATEWAY_API_KEYS is not set: /v1/* is open to anyone who can reach this port');

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    metrics.inFlight.inc();
    (request as { startedAt?: number }).startedAt = performance.now();
    if (closing) {
      reply.header('connection', 'close');
      throw unavailable('the gateway is shutting down; retry on another instance', 1);
    }
    // By the matched route, not the raw URL, so no spelling of a path slips past the check.
    const route = request.routeOptions.url;
    if (!route?.startsWith('/v1/') || route === '/v1/health/:service') return;
    checkAuth?.(request.headers.authorization);
    if (limiter) {
      // Per API key when auth is on (hashed: keys never sit in memory as map keys), else per address.
      const caller = checkAuth ? createHash('sha256').update(request.headers.authorization ?? '').digest('base64') : request.ip;
      const decision = limiter.take(caller);
      if (!decision.allowed) {
        throw new GatewayError(status.RESOURCE_EXHAUSTED, `rate limit of ${limiter.ratePerSec} requests/s exceeded; retry in ${decision.retryAfterS} s`, {
          httpStatus: 429,
          retryAfterS: decision.retryAfterS,
        });
      }
    }
    if (budget && request.method === 'POST') {
      // Admission by bytes before the body is read: a burst of large uploads cannot grow the heap unbounded.
      const declared = Number(request.headers['content-length']);
      const bytes = Number.isFinite(declared) && declared >= 0 ? Math.min(declared, config.maxBodyBytes) : config.maxBodyBytes;
      const release = budget.tryAcquire(bytes);
      if (!release) {
        // The unread body is discarded by Node as it arrives, not held.
        throw unavailable(`busy: ${budget.inUse} bytes of request bodies in flight (MAX_INFLIGHT_REQUEST_BYTES=${budget.maxBytes}); retry later`, 1);
      }
      (request as { releaseBytes?: () => void }).releaseBytes = release;
    }
  });
  app.addHook('onRequestAbort', async (request) => {
    (request as { releaseBytes?: () => void }).releaseBytes?.();
  });
  app.addHook('onResponse', async (request, reply) => {
    (request as { releaseBytes?: () => void }).releaseBytes?.();
    // Answered: a pooled raw body goes back once its upstream writes are done too (not earlier:
    // nothing before this hook knows the handler is through with it).
    release(request.body);
    metrics.inFlight.dec();
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { route, method: request.method, status: String(reply.statusCode) };
    const seconds = (performance.now() - ((request as { startedAt?: number }).startedAt ?? performance.now())) / 1000;
    metrics.requestDuration.observe(labels, seconds);
    metrics.requests.inc(labels);
    if (route.startsWith('/v1/')) {
      request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(seconds * 1e5) / 100 }, 'request done');
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const err = toGatewayError(error);
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.errors.inc({ route, code: err.codeName });
    const level = err.httpStatus >= 500 ? (err.codeName === 'UNAVAILABLE' || err.codeName === 'DEADLINE_EXCEEDED' ? 'warn' : 'error') : 'info';
    request.log[level]({ code: err.codeName, status: err.httpStatus, err: err.message }, 'request failed');
    if (err.options.retryAfterS !== undefined) reply.header('retry-after', String(err.options.retryAfterS));
    else if (err.httpStatus === 503) reply.header('retry-after', '1');
    return reply.code(err.httpStatus).type('application/json').send(errorBody(err, String(request.id)));
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new GatewayError(status.NOT_FOUND, `no route ${request.method} ${request.url.split('?')[0]}`);
    metrics.errors.inc({ route: 'unmatched', code: err.codeName });
    return reply.code(404).send(errorBody(err, String(request.id)));
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'imageflow gateway',
        version: '1.0.0',
        description:
          'HTTP/JSON in front of the imageflow gRPC services. Every failure answers {"error": {"code", "message", "requestId"}}. ' +
          'When the gateway has API keys, /v1/* (except /v1/health/*) needs "Authorization: Bearer <key>".',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });

  const deps: RouteDeps = { config, upstreams, metrics, checkBuckets: bucketChecker(config.allowedBuckets, config.defaultBucket) };
  healthRoutes(app, deps);
  imageRoutes(app, deps);
  pipelineRoutes(app, deps);
  metaRoutes(app, deps);
  await app.ready();
  return { app, upstreams, metrics, config };
}
