// GET /metrics (Prometheus text), GET /openapi.json (from the same zod schemas) and GET /docs.
import type { FastifyInstance } from 'fastify';
import { upstreamList } from '../upstreams.js';
import type { RouteDeps } from './context.js';
import { RAW_ROUTES } from './images.js';

const DOCS_PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>imageflow gateway API</title></head>
<body><redoc spec-url="/openapi.json"></redoc>
<script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script>
<noscript>The API document is at <a href="/openapi.json">/openapi.json</a>.</noscript></body></html>`;

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
  app.get('/openapi.json', { schema: { hide: true } }, async () => {
    document ??= addRawBodies(structuredClone(app.swagger() as unknown as Record<string, unknown>));
    return document;
  });

  app.get('/docs', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html').send(DOCS_PAGE));
}
