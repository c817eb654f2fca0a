// Who may call /v1/*: Bearer API keys compared in constant time, and which buckets they may
// touch. Health, readiness, metrics and the API document stay open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ImageInput, OutputOptions } from '../shared/http-api.js';
import { GatewayError, forbidden } from './errors.js';
import { status } from '@grpc/grpc-js';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * A checker of `Authorization` headers against the keys. Keys and the presented token are
 * compared as SHA-256 digests (equal lengths, so timingSafeEqual applies) and every key is
 * compared every time: neither the time nor an early exit tells which key, or how much of it, matched.
 */
export function bearerChecker(keys: readonly string[]): (authorization: string | undefined) => void {
  const digests = keys.map(digest);
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      throw new GatewayError(status.UNAUTHENTICATED, 'missing or malformed Authorization header: send "Authorization: Bearer <api key>"');
    }
    const presented = digest(match[1]);
    let ok = false;
    for (const d of digests) ok = timingSafeEqual(d, presented) || ok;
    if (!ok) throw new GatewayError(status.UNAUTHENTICATED, 'invalid API key');
  };
}

/** Refuses buckets outside ALLOWED_BUCKETS (when set); `defaultBucket` stands for an absent one. */
export function bucketChecker(allowed: ReadonlySet<string> | undefined, defaultBucket: string) {
  return (input: ImageInput | undefined, output: OutputOptions | undefined): void => {
    if (!allowed) return;
    const check = (bucket: string, field: string) => {
      if (!allowed.has(bucket)) throw forbidden(`${field} "${bucket}" is not allowed on this gateway (ALLOWED_BUCKETS)`);
    };
    if (input && 'key' in input) check(input.bucket ?? defaultBucket, 'input.bucket');
    if (output?.bucket) check(output.bucket, 'output.bucket');
    // Without an explicit output bucket, outputs go to the input's bucket (or the default bucket).
    else check(input && 'key' in input ? (input.bucket ?? defaultBucket) : defaultBucket, 'output bucket');
  };
}
