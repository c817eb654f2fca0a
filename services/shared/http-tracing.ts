// A server span per HTTP request for a Fastify app (the gateway), continuing the caller's W3C
// trace context from the headers. The span is made active for the route handler, so the gRPC
// calls it makes (which inject the active context into their metadata) become its children.
import { context, propagation, trace, SpanKind, SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer, tracingOn } from './tracing.js';

interface Traced {
  imageflowSpan?: Span;
  imageflowContext?: Context;
}

/** Registers nothing when tracing is off (initTracing not called or off): no hooks, no cost. */
export function registerHttpTracing(app: FastifyInstance): void {
  if (!tracingOn()) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(context.active(), request.headers);
    const route = request.routeOptions.url ?? 'unmatched';
    const span = tracer().startSpan(
      `${request.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route, 'url.path': request.url.split('?')[0], 'imageflow.request_id': String(request.id) },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    Object.assign(request as Traced, { imageflowSpan: span, imageflowContext: ctx });
    context.with(ctx, done);
  });
  // Body parsing runs on the socket's async context; re-enter the span's right before the handler.
  app.addHook('preHandler', (request, _reply, done) => {
    const ctx = (request as Traced).imageflowContext;
    if (ctx) context.with(ctx, done);
    else done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, 499);
    done();
  });
}

function end(request: FastifyRequest, status: number): void {
  const traced = request as Traced;
  const span = traced.imageflowSpan;
  if (!span) return;
  traced.imageflowSpan = undefined;
  span.setAttribute('http.response.status_code', status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
