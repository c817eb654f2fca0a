// The FilterService implementation over the shared image operation flow.
import { FilterServiceService, type FilterRequest, type FilterResponse } from '../shared/gen/imageflow/v1/filter.js';
import { unary, type ServiceRegistration } from '../shared/grpc-server.js';
import { openImage } from '../shared/image-codec.js';
import { runImageOperation } from '../shared/image-operation.js';
import type { ServiceParts } from '../shared/service-process.js';
import { applyFilters, filterSteps } from './filter.js';

export function filterService(parts: Pick<ServiceParts, 'logger' | 'images' | 'limiter'>): ServiceRegistration {
  const { images, logger, limiter } = parts;
  return {
    definition: FilterServiceService,
    healthName: 'imageflow.v1.FilterService',
    implementation: {
      filter: unary<FilterRequest, FilterResponse>('Filter', { logger, limiter }, async (req, ctx) => {
        const steps = filterSteps(req.operations);
        return runImageOperation(images, {
          op: 'filter',
          source: req.source,
          output: req.output,
          params: steps,
          remainingMs: ctx.remainingMs,
          transform: (data) => applyFilters(openImage(data, images.codec), steps),
        });
      }),
    },
  };
}
