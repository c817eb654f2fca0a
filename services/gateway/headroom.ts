// Image bodies that carry free bytes in front of them, so the gRPC request serializer (wire.ts)
// can write the protobuf fields that precede the image into that space and send a view,
// instead of concatenating a second copy of a multi-megabyte image. Every large Buffer the
// gateway allocates is garbage that drives V8's old-space collections (external memory
// pressure), which measured as the largest single cost of a raw-mode request.
//
// A body's headroom may be claimed once: the serialized message is sent from those bytes until
// the call's stream has written it, so a second call on the same image (a retry, or two steps on one input)
// writing different fields into the same bytes could change what the first one sends.
//
// Raw bodies come from a pool (../shared/buffer-pool.ts) when one is given: the memory is larger than the
// body (its size class), and holds an earlier request's bytes. Only the body's own bytes are
// ever exposed, and wire.ts writes every headroom byte it sends.
import type { IncomingMessage } from 'node:http';
import { release, type BufferPool } from '../shared/buffer-pool.js';

/** Room for every field of a request besides the image: output bucket and key (S3 keys are ≤ 1024 bytes), params. */
export const HEADROOM_BYTES = 4096;

const claimable = new WeakMap<ArrayBufferLike, number>();

/** `HEADROOM_BYTES` of free space followed by `length` bytes for the image (returned), from `pool` if given. */
function allocate(length: number, pool?: BufferPool): Buffer {
  const bytes = HEADROOM_BYTES + length;
  const backing = pool ? pool.acquire(bytes) : Buffer.allocUnsafeSlow(bytes);
  const body = backing.subarray(HEADROOM_BYTES, bytes);
  claimable.set(body.buffer, HEADROOM_BYTES);
  return body;
}

/**
 * Claims the `bytes` in front of `data` if they are free headroom this module allocated, and
 * returns them as a writable view (it is never handed out twice); undefined otherwise.
 */
export function claimHeadroom(data: Uint8Array, bytes: number): Buffer | undefined {
  const room = claimable.get(data.buffer);
  if (room === undefined || data.byteOffset !== room || bytes > room) return undefined;
  claimable.delete(data.buffer);
  return Buffer.from(data.buffer, data.byteOffset - bytes, bytes);
}

/** Base64 decoded straight into a body with headroom (what Buffer.from(s, 'base64') returns, one allocation). */
export function decodeBase64WithHeadroom(text: string): Buffer {
  const body = allocate(Buffer.byteLength(text, 'base64'));
  const written = body.write(text, 'base64');
  return body.subarray(0, written);
}

/** The errors Fastify's own body reader raises, so errors.ts maps them alike. */
const httpError = (code: string, message: string, statusCode: number) => Object.assign(new Error(message), { code, statusCode });
const bodyTooLarge = (limit: number) => httpError('FST_ERR_CTP_BODY_TOO_LARGE', `over MAX_BODY_BYTES=${limit}`, 413);
const lengthMismatch = () => httpError('FST_ERR_CTP_INVALID_CONTENT_LENGTH', 'request body size did not match Content-Length', 400);

/**
 * Reads a request body into one buffer with headroom: sized from Content-Length up front when
 * it is declared (refused with 413 before reading when it exceeds `limit`), else grown as
 * chunks arrive. The same errors and checks as Fastify's own `parseAs: 'buffer'` reader.
 * With a `pool`, the body's memory comes from it; whoever gets the body calls `release` on it
 * once the request is answered (server.ts), and buffers never handed out go back here.
 */
export function readBodyWithHeadroom(request: IncomingMessage, limit: number, pool?: BufferPool): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return Promise.reject(bodyTooLarge(limit));
  return new Promise((resolve, reject) => {
    let body = Number.isFinite(declared) && declared >= 0 ? allocate(declared, pool) : allocate(64 * 1024, pool);
    let received = 0;
    const finish = (err?: Error) => {
      request.removeListener('data', onData);
      request.removeListener('end', onEnd);
      request.removeListener('error', onError);
      if (err) {
        release(body);
        reject(err);
      }
    };
    const onData = (chunk: Buffer) => {
      if (received + chunk.length > limit) return finish(bodyTooLarge(limit));
      if (received + chunk.length > body.length) {
        if (Number.isFinite(declared)) return finish(lengthMismatch());
        const grown = allocate(Math.min(limit, Math.max(2 * body.length, received + chunk.length)), pool);
        body.copy(grown, 0, 0, received);
        release(body);
        body = grown;
      }
      chunk.copy(body, received);
      received += chunk.length;
    };
    const onEnd = () => {
      if (Number.isFinite(declared) && received !== declared) return finish(lengthMismatch());
      finish();
      resolve(body.subarray(0, received));
    };
    const onError = (err: Error & { statusCode?: number }) => {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      finish(err);
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.resume();
  });
}
