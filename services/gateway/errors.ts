// One error shape for every failure, and the mapping from gRPC status codes (and Fastify's own
// errors) to HTTP statuses: {"error": {"code", "message", "requestId"}}.
import { status } from '@grpc/grpc-js';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import type { ErrorResponse } from '../shared/http-api.js';

export type ErrorCodeName = ErrorResponse['error']['code'];

const HTTP_BY_CODE: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.NOT_FOUND]: 404,
  [status.RESOURCE_EXHAUSTED]: 413,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
};

/** The contract's error codes; other gRPC codes are reported as themselves with HTTP 500. */
const NAMED = new Set<string>([
  'INVALID_ARGUMENT', 'NOT_FOUND', 'RESOURCE_EXHAUSTED', 'UNAUTHENTICATED', 'PERMISSION_DENIED',
  'UNAVAILABLE', 'DEADLINE_EXCEEDED', 'FAILED_PRECONDITION', 'INTERNAL', 'UNKNOWN',
  'CANCELLED', 'ALREADY_EXISTS', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'DATA_LOSS',
]);

export const httpStatusOf = (code: status): number => HTTP_BY_CODE[code] ?? 500;

export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly code: status,
    message: string,
    readonly options: { httpStatus?: number; retryAfterS?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }
  get httpStatus(): number {
    return this.options.httpStatus ?? httpStatusOf(this.code);
  }
  get codeName(): ErrorCodeName {
    const name = status[this.code] as string | undefined;
    return (name && NAMED.has(name) ? name : 'UNKNOWN') as ErrorCodeName;
  }
}

export const badRequest = (message: string) => new GatewayError(status.INVALID_ARGUMENT, message);
export const forbidden = (message: string) => new GatewayError(status.PERMISSION_DENIED, message);
export const unavailable = (message: string, retryAfterS = 1, cause?: unknown) =>
  new GatewayError(status.UNAVAILABLE, message, { retryAfterS, cause });

/** True for a grpc-js call error ({code, details, metadata}). */
export function isGrpcError(err: unknown): err is { code: status; details: string; message: string } {
  const e = err as { code?: unknown; details?: unknown; metadata?: unknown } | undefined;
  return typeof e?.code === 'number' && typeof e.details === 'string' && e.metadata !== undefined;
}

/** A gRPC failure as a GatewayError; `upstream` names the service in the message. */
export function fromGrpc(err: { code: status; details: string }, upstream: string): GatewayError {
  const details = err.details || status[err.code];
  switch (err.code) {
    case status.UNAVAILABLE:
      return unavailable(/^busy\b/.test(details) ? `${upstream} is ${details}` : `${upstream} service unavailable: ${details}`, 1, err);
    case status.DEADLINE_EXCEEDED:
      return new GatewayError(err.code, `${upstream} service did not answer in time: ${details}`, { cause: err });
    case status.INTERNAL:
    case status.UNKNOWN:
      return new GatewayError(err.code, `${upstream} service failed: ${details}`, { cause: err });
    default:
      return new GatewayError(err.code, details, { cause: err });
  }
}

/** Fastify's and the type provider's errors (validation, body limit, bad JSON, 404) as GatewayErrors. */
export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (isGrpcError(err)) return fromGrpc(err, 'upstream');
  const e = err as { statusCode?: number; code?: string; message?: string; validationContext?: string };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = e.validationContext === 'querystring' ? 'query' : (e.validationContext ?? 'body');
    const issues = err.validation.map((v) => {
      const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
      return `${where}${path ? `.${path}` : ''}: ${v.message}`;
    });
    return badRequest(issues.join('; '));
  }
  const statusCode = e.statusCode ?? 500;
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || statusCode === 413) {
    return new GatewayError(status.RESOURCE_EXHAUSTED, `request body is larger than the limit (${e.message ?? ''})`, { httpStatus: 413 });
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || statusCode === 415) {
    return new GatewayError(status.INVALID_ARGUMENT, `unsupported Content-Type: send application/json or an image/* body`, { httpStatus: 415 });
  }
  if (statusCode === 404) return new GatewayError(status.NOT_FOUND, e.message ?? 'not found');
  if (statusCode === 503) return unavailable(e.message ?? 'unavailable');
  if (statusCode >= 400 && statusCode < 500) {
    return new GatewayError(status.INVALID_ARGUMENT, e.message ?? 'bad request', { httpStatus: statusCode });
  }
  return new GatewayError(status.INTERNAL, e.message ?? String(err), { cause: err });
}

export function errorBody(err: GatewayError, requestId: string): ErrorResponse {
  return { error: { code: err.codeName, message: err.message, requestId } };
}
