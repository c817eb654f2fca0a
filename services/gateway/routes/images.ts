// POST /v1/resize, /v1/filter, /v1/detect: JSON mode (object or base64 input, output stored,
// JSON answer) and raw mode (image body, query-string parameters, image answer).
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import {
  DetectRequest,
  DetectResponse,
  ErrorResponse,
  FilterRequest,
  ImageResponse,
  ResizeRequest,
} from '../../shared/http-api.js';
import type { OutputImage } from '../../shared/gen/imageflow/v1/common.js';
import {
  OutputDelivery,
  detectMessage,
  detections,
  filterOperations,
  formatName,
  imageSource,
  outputResult,
  outputSpec,
  resizeMessage,
  timingsRecord,
} from '../messages.js';
import { RawDetectQuery, RawFilterQuery, RawResizeQuery, rawDetect, rawFilter, rawResize, requireEmptyQuery, serverTiming } from '../raw-mode.js';
import { requireUpstream } from '../upstreams.js';
import { type RouteDeps, callContext } from './context.js';

const errors = { '4xx': ErrorResponse, '5xx': ErrorResponse };
const RAW_NOTE =
  ' Raw mode: send the image itself with Content-Type: image/* and the parameters in the query string; the answer is the image.';

/** Routes whose body may be raw image bytes (the validator lets Buffers through only for these). */
export const RAW_ROUTES = new Set(['/v1/resize', '/v1/filter', '/v1/detect']);

function sendImage(reply: FastifyReply, image: OutputImage, timings: Record<string, number>): FastifyReply {
  return reply
    .type(`image/${formatName(image.format)}`)
    .header('x-image-width', image.width)
    .header('x-image-height', image.height)
    .header('server-timing', serverTiming(timings))
    .send(image.data);
}

export function imageRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { config, upstreams } = deps;
  const r = app.withTypeProvider<ZodTypeProvider>();
  const STORE = OutputDelivery.OUTPUT_DELIVERY_STORE;
  const INLINE = OutputDelivery.OUTPUT_DELIVERY_INLINE;

  r.post(
    '/v1/resize',
    {
      schema: {
        summary: 'Resize an image',
        description: `JSON mode: the output is stored (deterministic key unless output.key) and described.${RAW_NOTE}`,
        body: ResizeRequest,
        querystring: RawResizeQuery,
        response: { 200: ImageResponse, ...errors },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const upstream = requireUpstream(upstreams, 'resize');
      const ctx = callContext(request, reply, config.deadlinesMs.resize);
      if (Buffer.isBuffer(request.body)) {
        const { options, output } = rawResize(request.query);
        const msg = resizeMessage(options, { data: request.body }, outputSpec(output, INLINE));
        const res = await upstream.call('resize', msg, ctx);
        return sendImage(reply, res.output!, timingsRecord(res.timings, { totalMs: performance.now() - started }));
      }
      const body = request.body;
      requireEmptyQuery(request.query);
      deps.checkBuckets(body.input, body.output);
      const msg = resizeMessage(body, imageSource(body.input, config.defaultBucket), outputSpec(body.output, STORE));
      const res = await upstream.call('resize', msg, ctx);
      return { output: outputResult(res.output!), timings: timingsRecord(res.timings, { totalMs: performance.now() - started }) };
    },
  );

  r.post(
    '/v1/filter',
    {
      schema: {
        summary: 'Apply filters in order',
        description: `JSON mode: the output is stored (deterministic key unless output.key) and described.${RAW_NOTE} e.g. ?ops=blur:3,grayscale`,
        body: FilterRequest,
        querystring: RawFilterQuery,
        response: { 200: ImageResponse, ...errors },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const upstream = requireUpstream(upstreams, 'filter');
      const ctx = callContext(request, reply, config.deadlinesMs.filter);
      if (Buffer.isBuffer(request.body)) {
        const { ops, output } = rawFilter(request.query);
        const msg = { source: { data: request.body }, operations: filterOperations(ops), output: outputSpec(output, INLINE) };
        const res = await upstream.call('filter', msg, ctx);
        return sendImage(reply, res.output!, timingsRecord(res.timings, { totalMs: performance.now() - started }));
      }
      const body = request.body;
      requireEmptyQuery(request.query);
      deps.checkBuckets(body.input, body.output);
      const msg = {
        source: imageSource(body.input, config.defaultBucket),
        operations: filterOperations(body.ops),
        output: outputSpec(body.output, STORE),
      };
      const res = await upstream.call('filter', msg, ctx);
      return { output: outputResult(res.output!), timings: timingsRecord(res.timings, { totalMs: performance.now() - started }) };
    },
  );

  r.post(
    '/v1/detect',
    {
      schema: {
        summary: 'Detect objects',
        description:
          'JSON mode: detections as JSON; with drawBoxes the annotated image and a JSON sidecar are stored.' +
          `${RAW_NOTE} Raw detect answers the JSON detections, or the annotated image with drawBoxes=true.`,
        body: DetectRequest,
        querystring: RawDetectQuery,
        response: { 200: DetectResponse, ...errors },
      },
    },
    async (request, reply) => {
      const started = performance.now();
      const upstream = requireUpstream(upstreams, 'detection');
      const ctx = callContext(request, reply, config.deadlinesMs.detect);
      const raw = Buffer.isBuffer(request.body);
      let msg;
      if (Buffer.isBuffer(request.body)) {
        const { options, output } = rawDetect(request.query);
        msg = detectMessage(options, { data: request.body }, options.drawBoxes ? outputSpec(output, INLINE) : undefined);
      } else {
        const body = request.body;
        requireEmptyQuery(request.query);
        deps.checkBuckets(body.input, body.drawBoxes ? body.output : undefined);
        msg = detectMessage(body, imageSource(body.input, config.defaultBucket), body.drawBoxes ? outputSpec(body.output, STORE) : undefined);
      }
      const res = await upstream.call('detect', msg, ctx);
      const timings = timingsRecord(res.timings, { totalMs: performance.now() - started });
      if (raw && msg.drawBoxes && res.annotated) {
        return sendImage(reply.header('x-detections-count', res.detections.length), res.annotated, timings);
      }
      return {
        detections: detections(res),
        model: res.model,
        modelVersion: res.modelVersion,
        imageWidth: res.imageWidth,
        imageHeight: res.imageHeight,
        ...(res.annotated && !raw ? { output: outputResult(res.annotated) } : {}),
        ...(res.sidecar?.key ? { sidecar: { bucket: res.sidecar.bucket, key: res.sidecar.key } } : {}),
        timings,
      };
    },
  );
}
