// Bounded concurrency with a bounded queue: under saturation callers get a fast "busy" error
// (UNAVAILABLE, which clients retry with backoff) instead of an unbounded queue or an OOM.
// Optionally bounded by bytes too: calls carrying large inline images are refused while the
// bytes held by running and queued calls would pass maxBytes, since a count alone lets 64 queued
// 30 MiB requests hold 2 GiB.
// What a running call decodes is bounded separately, once its header is known: resize and filter
// reserve the image's pixels in a PixelBudget (pixel-budget.ts, MAX_INFLIGHT_PIXELS) before decoding.
import { ByteBudget } from './byte-budget.js';
import { unavailable } from './errors.js';

const MIB = 1024 * 1024;

export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly bytes?: ByteBudget;

  constructor(
    readonly maxActive: number,
    readonly maxQueued: number,
    /** Bytes of request payload held by running + queued calls. @default unbounded */
    readonly maxBytes?: number,
  ) {
    if (maxBytes !== undefined && maxBytes > 0) this.bytes = new ByteBudget(maxBytes);
  }

  get inFlight(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting.length;
  }
  get bytesInUse(): number {
    return this.bytes?.inUse ?? 0;
  }

  /** Runs fn when a slot is free; `bytes` is the size of the call's payload (for the byte bound). */
  async run<T>(fn: () => Promise<T>, bytes = 0): Promise<T> {
    const release = this.bytes?.tryAcquire(bytes);
    if (this.bytes && !release) {
      throw unavailable(
        `busy: ${Math.round(this.bytes.inUse / MIB)} MiB of requests in progress, a ${Math.round(bytes / MIB)} MiB one would pass the limit of ${Math.round(this.bytes.maxBytes / MIB)} MiB; retry later`,
      );
    }
    try {
      if (this.active >= this.maxActive) {
        if (this.waiting.length >= this.maxQueued) {
          throw unavailable(`busy: ${this.active} requests in progress and ${this.waiting.length} queued; retry later`);
        }
        await new Promise<void>((resolve) => this.waiting.push(resolve));
      } else {
        this.active++;
      }
      try {
        return await fn();
      } finally {
        const next = this.waiting.shift();
        // Hand the slot straight to the next waiter so the count never dips and overshoots.
        if (next) next();
        else this.active--;
      }
    } finally {
      release?.();
    }
  }
}
