// The ResizeService implementation over the shared image operation flow.
import { ResizeServiceService, type ResizeRequest, type ResizeResponse } from '../shared/gen/imageflow/v1/resize.js';
import { unary } from '../shared/grpc-server.js';
import type { ServiceRegistration } from '../shared/grpc-server.js';
import { openImage } from '../shared/image-codec.js';
import { runImageOperation } from '../shared/image-operation.js';
import type { ServiceParts } from '../shared/service-process.js';
import { applyResize, resizeParams, resizedPixels } from './resize.js';

export function resizeService(parts: Pick<ServiceParts, 'logger' | 'images' | 'limiter'>): ServiceRegistration {
  const { images, logger, limiter } = parts;
  return {
    definition: ResizeServiceService,
    healthName: 'imageflow.v1.ResizeService',
    implementation: {
      resize: unary<ResizeRequest, ResizeResponse>('Resize', { logger, limiter }, async (req, ctx) => {
        const params = resizeParams(req);
        return runImageOperation(images, {
          op: 'resize',
          source: req.source,
          output: req.output,
          params,
          remainingMs: ctx.remainingMs,
          outputPixels: (header) => resizedPixels(params, header.width, header.height),
          transform: (data) => applyResize(openImage(data, images.codec), params),
        });
      }),
    },
  };
}
