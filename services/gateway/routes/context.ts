// What every route needs: configuration, upstreams, metrics, access checks, and a per-request
// call context (request id, deadline, cancellation when the client goes away).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config.js';
import type { GatewayMetrics } from '../metrics.js';
import type { CallContext, Upstreams } from '../upstreams.js';
import type { ImageInput, OutputOptions } from '../../shared/http-api.js';

export interface RouteDeps {
  readonly config: GatewayConfig;
  readonly upstreams: Upstreams;
  readonly metrics: GatewayMetrics;
  readonly checkBuckets: (input: ImageInput | undefined, output: OutputOptions | undefined) => void;
}

/** A call context whose signal aborts when the client disconnects before the answer is sent. */
export function callContext(request: FastifyRequest, reply: FastifyReply, deadlineMs: number): CallContext {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return { requestId: String(request.id), deadline: Date.now() + deadlineMs, signal: controller.signal };
}
