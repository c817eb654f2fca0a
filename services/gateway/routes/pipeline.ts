// POST /v1/pipeline: several steps in one request, intermediates in memory (see ../pipeline.ts).
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ErrorResponse, PipelineRequest, PipelineResponse } from '../../shared/http-api.js';
import { runPipeline } from '../pipeline.js';
import { requireEmptyQuery } from '../raw-mode.js';
import { type RouteDeps, callContext } from './context.js';

export function pipelineRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { config } = deps;
  app.withTypeProvider<ZodTypeProvider>().post(
    '/v1/pipeline',
    {
      schema: {
        summary: 'Run resize/filter/detect steps in one request',
        description:
          'The image passes from step to step in memory; only the final image (and detection sidecars of detect steps ' +
          'with drawBoxes) is stored, under the key the same chain of single calls would have produced.',
        body: PipelineRequest,
        response: { 200: PipelineResponse, '4xx': ErrorResponse, '5xx': ErrorResponse },
      },
    },
    async (request, reply) => {
      requireEmptyQuery(request.query);
      const body = request.body;
      deps.checkBuckets(body.input, body.output);
      const ctx = callContext(request, reply, config.deadlinesMs.pipeline);
      return runPipeline({ upstreams: deps.upstreams, defaultBucket: config.defaultBucket, deadlinesMs: config.deadlinesMs }, body, ctx);
    },
  );
}
