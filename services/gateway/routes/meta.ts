// GET /metrics (Prometheus text), GET /openapi.json (from the same zod schemas) and GET /docs.
import type { FastifyInstance } from 'fastify';
import { upstreamList } from '../upstreams.js';
import type { RouteDeps } from './context.js';
import { RAW_ROUTES } from './images.js';
import { renderDocsPage } from '../docs-page.js';

/** The raw-mode request body next to the JSON one, which @fastify/swagger cannot express from one schema. */
function addRawBodies(document: Record<string, unknown>): Record<string, unknown> {
  const paths = (document.paths ?? {}) as Record<string, { post?: { requestBody?: { content?: Record<string, unknown> } } }>;
  for (const url of RAW_ROUTES) {
    const content = paths[url]?.post?.requestBody?.content;
    if (content) content['image/*'] = { schema: { type: 'string', format: 'binary' } };
  }
  return document;
}

export function metaRoutes(app: FastifyInstance, deps: RouteDeps): void {
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    for (const u of upstreamList(deps.upstreams)) u.refreshMetrics();
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  let document: Record<string, unknown> | undefined;
  const openapi = () => (document ??= addRawBodies(structuredClone(app.swagger() as unknown as Record<string, unknown>)));
  app.get('/openapi.json', { schema: { hide: true } }, async () => openapi());

  let docsPage: string | undefined;
  app.get('/docs', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html').send((docsPage ??= renderDocsPage(openapi()))));
}
