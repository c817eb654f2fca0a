// GET /health (the gateway itself), GET /ready (every configured backend SERVING) and
// GET /v1/health/{service} (one backend's grpc.health.v1 status).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { status } from '@grpc/grpc-js';
import { ErrorResponse } from '../../shared/http-api.js';
import { GatewayError } from '../errors.js';
import { UPSTREAM_NAMES, type HealthStatus, type Upstreams } from '../upstreams.js';
import type { RouteDeps } from './context.js';
import type { UpstreamName } from '../config.js';

const Backend = z.object({
  status: z.enum(['SERVING', 'NOT_SERVING', 'UNKNOWN', 'SERVICE_UNKNOWN', 'UNREACHABLE', 'NOT_CONFIGURED']),
  endpoint: z.string().optional(),
  circuit: z.enum(['closed', 'open', 'half-open']).optional(),
});
const ReadyResponse = z.object({ ready: z.boolean(), backends: z.record(z.string(), Backend) });
const ServiceHealth = z.object({ service: z.string(), serving: z.boolean() }).extend(Backend.shape);

async function backendHealth(upstreams: Upstreams, name: UpstreamName, timeoutMs: number): Promise<z.infer<typeof Backend>> {
  const u = upstreams[name];
  if (!u) return { status: 'NOT_CONFIGURED' };
  const s: HealthStatus = await u.checkHealth(timeoutMs);
  return { status: s, endpoint: u.endpoint, circuit: u.breaker.state };
}

export function healthRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const timeoutMs = deps.config.deadlinesMs.health;

  r.get('/health', { schema: { summary: 'Liveness of the gateway itself', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  r.get(
    '/ready',
    {
      schema: {
        summary: 'Readiness: 200 when every configured backend is SERVING, else 503',
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const configured = UPSTREAM_NAMES.filter((n) => deps.upstreams[n]);
      const results = await Promise.all(configured.map(async (n) => [n, await backendHealth(deps.upstreams, n, timeoutMs)] as const));
      const ready = results.every(([, b]) => b.status === 'SERVING');
      return reply.code(ready ? 200 : 503).send({ ready, backends: Object.fromEntries(results) });
    },
  );

  r.get(
    '/v1/health/:service',
    {
      schema: {
        summary: "One backend's grpc.health.v1 status: 200 SERVING, 503 otherwise, 404 unknown name",
        params: z.object({ service: z.string() }),
        response: { 200: ServiceHealth, 503: ServiceHealth, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const name = request.params.service as UpstreamName;
      if (!UPSTREAM_NAMES.includes(name)) {
        throw new GatewayError(status.NOT_FOUND, `unknown service "${request.params.service}"; use ${UPSTREAM_NAMES.join(', ')}`);
      }
      const b = await backendHealth(deps.upstreams, name, timeoutMs);
      const serving = b.status === 'SERVING';
      return reply.code(serving ? 200 : 503).send({ service: name, serving, ...b });
    },
  );
}
