// Bounded concurrency with a bounded queue: under saturation callers get a fast "busy" error
// (UNAVAILABLE, which clients retry with backoff) instead of an unbounded queue or an OOM.
import { unavailable } from './errors.js';

export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    readonly maxActive: number,
    readonly maxQueued: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }
  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
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
  }
}
