// Errors travel as gRPC status codes with a message that says what to change; never as an OK
// response that says it failed.
import { status } from '@grpc/grpc-js';

export { status as Code };

export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly code: status,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const invalidArgument = (message: string, cause?: unknown) =>
  new ServiceError(status.INVALID_ARGUMENT, message, { cause });
export const notFound = (message: string, cause?: unknown) => new ServiceError(status.NOT_FOUND, message, { cause });
export const unavailable = (message: string, cause?: unknown) =>
  new ServiceError(status.UNAVAILABLE, message, { cause });
export const resourceExhausted = (message: string, cause?: unknown) =>
  new ServiceError(status.RESOURCE_EXHAUSTED, message, { cause });
export const deadlineExceeded = (message: string, cause?: unknown) =>
  new ServiceError(status.DEADLINE_EXCEEDED, message, { cause });

const NETWORK_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
]);

/** True for errors that mean "the peer could not be reached", as opposed to a bad request. */
export function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; cause?: unknown; errors?: unknown[] } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && NETWORK_ERRORS.has(e.code)) return true;
  if (Array.isArray(e.errors) && e.errors.some(isNetworkError)) return true; // AggregateError
  return e.cause !== undefined && e.cause !== err && isNetworkError(e.cause);
}

/** Maps any thrown value to a ServiceError with the right status code. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  if (isNetworkError(err)) return unavailable(`peer unreachable: ${(err as Error).message}`, err);
  const message = err instanceof Error ? err.message : String(err);
  return new ServiceError(status.INTERNAL, message, { cause: err });
}

/**
 * Wraps an error that sharp/libvips raised while reading or transforming the caller's image:
 * those are the caller's input, so INVALID_ARGUMENT with libvips' own words.
 */
export function imageError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  const message = (err instanceof Error ? err.message : String(err)).trim().split('\n')[0];
  if (/pixel limit/i.test(message)) {
    return invalidArgument(
      `image too large: ${message}; send a smaller image or raise LIMIT_INPUT_PIXELS`,
      err,
    );
  }
  return invalidArgument(`cannot process image: ${message}`, err);
}
