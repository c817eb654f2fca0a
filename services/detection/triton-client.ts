// A thin client of Triton's KServe v2 GRPCInferenceService: one persistent channel, a deadline
// on every call, keepalive pings no more often than every 5 minutes (Triton's default policy
// rejects faster ones), the caller's trace context in the metadata (Triton continues it in its
// OpenTelemetry trace mode), and Triton's status codes translated into ours.
import * as grpc from '@grpc/grpc-js';
import {
  GRPCInferenceServiceClient,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataResponse,
  type ModelReadyResponse,
} from '../shared/gen/inference/grpc_service.js';
import { Code, ServiceError, unavailable } from '../shared/errors.js';
import { injectTraceContext } from '../shared/tracing.js';

export const TRITON_KEEPALIVE_MS = 5 * 60_000;

export class TritonClient {
  private readonly client: GRPCInferenceServiceClient;

  constructor(
    readonly url: string,
    maxMessageBytes = 64 * 1024 * 1024,
  ) {
    this.client = new GRPCInferenceServiceClient(url, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': TRITON_KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': 20_000,
      'grpc.keepalive_permit_without_calls': 0,
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
      // Come back within seconds after a Triton restart, not grpc-js' default two minutes.
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5_000,
    });
  }

  async modelReady(name: string, version: string, timeoutMs: number): Promise<boolean> {
    const res = await this.unary<ModelReadyResponse>('ModelReady', timeoutMs, (meta, opts, cb) => this.client.modelReady({ name, version }, meta, opts, cb));
    return res.ready;
  }

  modelMetadata(name: string, version: string, timeoutMs: number): Promise<ModelMetadataResponse> {
    return this.unary<ModelMetadataResponse>('ModelMetadata', timeoutMs, (meta, opts, cb) => this.client.modelMetadata({ name, version }, meta, opts, cb));
  }

  modelInfer(request: ModelInferRequest, timeoutMs: number): Promise<ModelInferResponse> {
    return this.unary<ModelInferResponse>('ModelInfer', timeoutMs, (meta, opts, cb) => this.client.modelInfer(request, meta, opts, cb));
  }

  close(): void {
    this.client.close();
  }

  private unary<Res>(
    method: string,
    timeoutMs: number,
    start: (meta: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown,
  ): Promise<Res> {
    return new Promise((resolve, reject) => {
      start(injectTraceContext(new grpc.Metadata()), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(tritonError(err, method, this.url, timeoutMs)) : resolve(res),
      );
    });
  }
}

/**
 * Triton's answer in our terms: it being away, busy or without the model is UNAVAILABLE (the
 * caller retries); a request it rejects is our bug, so INTERNAL; never a silent empty result.
 */
export function tritonError(err: grpc.ServiceError, method: string, url: string, timeoutMs: number): ServiceError {
  const detail = err.details || err.message;
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new ServiceError(Code.DEADLINE_EXCEEDED, `Triton at ${url} did not answer ${method} within ${timeoutMs} ms`, { cause: err });
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.NOT_FOUND:
    case grpc.status.FAILED_PRECONDITION:
      return unavailable(`Triton at ${url}: ${method} failed (${grpc.status[err.code]}): ${detail}`, err);
    default:
      return new ServiceError(Code.INTERNAL, `Triton at ${url} rejected ${method} (${grpc.status[err.code]}): ${detail}`, { cause: err });
  }
}
