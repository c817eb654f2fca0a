// Token buckets per caller (API key, or client address when auth is off): a sustained rate with a
// burst allowance, answered with how long to wait when empty. Bounded memory: the least recently
// seen callers are forgotten first (a forgotten caller starts again with a full bucket).
export interface RateLimitOptions {
  /** Tokens added per second (sustained requests per second). */
  readonly ratePerSec: number;
  /** Bucket size: requests allowed at once after a quiet period. @default max(1, ratePerSec) */
  readonly burst?: number;
  /** Callers remembered at most. @default 10000 */
  readonly maxKeys?: number;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterS: number };

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  readonly ratePerSec: number;
  readonly burst: number;
  private readonly maxKeys: number;

  constructor(options: RateLimitOptions) {
    if (!(options.ratePerSec > 0)) throw new Error(`ratePerSec must be > 0, got ${options.ratePerSec}`);
    this.ratePerSec = options.ratePerSec;
    this.burst = Math.max(1, options.burst ?? Math.max(1, options.ratePerSec));
    this.maxKeys = options.maxKeys ?? 10_000;
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `key`; `nowMs` is a monotonic clock (performance.now()). */
  take(key: string, nowMs: number = performance.now()): RateDecision {
    let bucket = this.buckets.get(key);
    if (bucket) {
      this.buckets.delete(key); // re-inserted below: Map order is recency order
      bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.updated) / 1000) * this.ratePerSec);
      bucket.updated = nowMs;
    } else {
      bucket = { tokens: this.burst, updated: nowMs };
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSec)) };
  }
}
