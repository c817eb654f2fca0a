// gRPC clients of the three services as promises, with a deadline on every call. One client per
// target keeps one HTTP/2 channel open for the whole run, as the gateway does.
import * as grpc from '@grpc/grpc-js';
import { AiDetectionServiceClient, type DetectRequest, type DetectResponse } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { FilterServiceClient, FilterType, type FilterRequest, type FilterResponse } from '../../services/shared/gen/imageflow/v1/filter.js';
import { Fit, ResizeServiceClient, type ResizeRequest, type ResizeResponse } from '../../services/shared/gen/imageflow/v1/resize.js';
import { OutputDelivery, type ImageSource, type OutputSpec } from '../../services/shared/gen/imageflow/v1/common.js';

const OPTIONS = {
  'grpc.max_receive_message_length': 128 * 1024 * 1024,
  'grpc.max_send_message_length': 128 * 1024 * 1024,
};

export interface Clients {
  resize?: ResizeServiceClient;
  filter?: FilterServiceClient;
  detection?: AiDetectionServiceClient;
  close(): void;
}

export function clients(ports: { resize?: number; filter?: number; detection?: number }, host = '127.0.0.1'): Clients {
  const insecure = grpc.credentials.createInsecure();
  const c: Clients = {
    resize: ports.resize ? new ResizeServiceClient(`${host}:${ports.resize}`, insecure, OPTIONS) : undefined,
    filter: ports.filter ? new FilterServiceClient(`${host}:${ports.filter}`, insecure, OPTIONS) : undefined,
    detection: ports.detection ? new AiDetectionServiceClient(`${host}:${ports.detection}`, insecure, OPTIONS) : undefined,
    close() {
      c.resize?.close();
      c.filter?.close();
      c.detection?.close();
    },
  };
  return c;
}

type Unary<Req, Res> = (req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

export function unaryCall<Req, Res>(client: grpc.Client, method: Unary<Req, Res>, req: Req, timeoutMs = 60_000): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

export const source = {
  object: (key: string, bucket = ''): ImageSource => ({ object: { bucket, key } }),
  inline: (data: Buffer): ImageSource => ({ data }),
};

export const output = {
  inline: (): OutputSpec => ({ bucket: '', key: '', format: 0, quality: 0, delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, reuseExisting: false }),
  store: (): OutputSpec => ({ bucket: '', key: '', format: 0, quality: 0, delivery: OutputDelivery.OUTPUT_DELIVERY_STORE, reuseExisting: false }),
};

/** The seed pipeline's requests. */
export const seedRequests = {
  resize: (src: ImageSource, out: OutputSpec, width = 1024): ResizeRequest => ({
    source: src,
    width,
    height: undefined,
    fit: Fit.FIT_INSIDE,
    withoutEnlargement: true,
    output: out,
    background: '',
  }),
  detect: (src: ImageSource): DetectRequest => ({
    source: src,
    model: '',
    confidenceThreshold: 0.4,
    iouThreshold: undefined,
    maxDetections: undefined,
    classes: [],
    drawBoxes: false,
    output: undefined,
  }),
  filter: (src: ImageSource, out: OutputSpec): FilterRequest => ({
    source: src,
    operations: [{ type: FilterType.FILTER_TYPE_SHARPEN, intensity: 1.2 }],
    output: out,
  }),
};

export const callResize = (c: ResizeServiceClient, req: ResizeRequest, timeoutMs?: number) =>
  unaryCall<ResizeRequest, ResizeResponse>(c, c.resize, req, timeoutMs);
export const callFilter = (c: FilterServiceClient, req: FilterRequest, timeoutMs?: number) =>
  unaryCall<FilterRequest, FilterResponse>(c, c.filter, req, timeoutMs);
export const callDetect = (c: AiDetectionServiceClient, req: DetectRequest, timeoutMs?: number) =>
  unaryCall<DetectRequest, DetectResponse>(c, c.detect, req, timeoutMs);

/** Retries while the service answers UNAVAILABLE (e.g. its model is still loading), up to `maxMs`. */
export async function whenAvailable<T>(fn: () => Promise<T>, maxMs = 60_000, everyMs = 5): Promise<T> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNAVAILABLE || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
