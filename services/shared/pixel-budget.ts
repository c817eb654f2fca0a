// Admission by decoded pixels. A call's memory is set by the pixels it decodes (a 24 MP image is
// 72 MB of sRGB per copy, and a filter holds several copies), not by its count, so a count limit
// that suits 1 MP photos lets eight 24 MP ones through at once. A call reserves the pixels it
// will decode (known from the header, read before decoding) and waits while the pixels reserved
// by running calls would pass the budget. Small images still run side by side; one image larger
// than the whole budget runs alone rather than being refused (the pixel limit already bounds it).
//
// Waiters are served in arrival order, so a stream of small images cannot starve a large one.
// A waiter leaves the queue with DEADLINE_EXCEEDED when its caller's deadline passes (it would
// otherwise decode for nobody), and past `maxWaiting` waiters a call is refused at once with
// UNAVAILABLE "busy", like the call limiter's queue.
import { ByteBudget } from './byte-budget.js';
import { deadlineExceeded, unavailable } from './errors.js';

const MP = 1_000_000;

export interface PixelAcquireOptions {
  /** Milliseconds left before the caller's deadline (Infinity or undefined when none). */
  readonly remainingMs?: () => number;
}

interface Waiter {
  readonly pixels: number;
  readonly grant: () => void;
}

export class PixelBudget {
  /** Who is admitted: the same rule as for request bytes (a lone call always runs). */
  private readonly budget: ByteBudget;
  private readonly queue: Waiter[] = [];
  private peakUsed = 0;
  private peakHolders = 0;
  private waited = 0;

  constructor(
    readonly maxPixels: number,
    /** Calls that may wait for pixels at once; more are refused as busy. @default unbounded */
    readonly maxWaiting: number = Number.POSITIVE_INFINITY,
  ) {
    if (!(maxPixels > 0)) throw new Error(`maxPixels must be > 0, got ${maxPixels}`);
    if (!(maxWaiting >= 0)) throw new Error(`maxWaiting must be >= 0, got ${maxWaiting}`);
    this.budget = new ByteBudget(maxPixels);
  }

  /** Pixels reserved by calls decoding now. */
  get inUse(): number {
    return this.budget.inUse;
  }
  /** Calls decoding now. */
  get decoding(): number {
    return this.budget.held;
  }
  /** Calls waiting for pixels. */
  get waiting(): number {
    return this.queue.length;
  }
  /** The most pixels ever reserved at once. */
  get peakInUse(): number {
    return this.peakUsed;
  }
  /** The most calls ever decoding at once. */
  get peakDecoding(): number {
    return this.peakHolders;
  }
  /** Calls that had to wait for pixels, since start. */
  get waitedTotal(): number {
    return this.waited;
  }

  /**
   * Reserves `pixels` and resolves with the function that gives them back (idempotent). Resolves
   * at once when nobody waits and they fit (or nothing else is decoding); otherwise waits its turn.
   */
  acquire(pixels: number, options: PixelAcquireOptions = {}): Promise<() => void> {
    const n = Math.max(0, Math.ceil(pixels));
    if (this.queue.length === 0 && this.fits(n)) return Promise.resolve(this.take(n));
    if (this.queue.length >= this.maxWaiting) {
      return Promise.reject(
        unavailable(
          `busy: ${mp(this.budget.inUse)} MP of images decoding and ${this.queue.length} calls waiting for the pixel budget of ${mp(this.maxPixels)} MP; retry later`,
        ),
      );
    }
    const remaining = options.remainingMs?.() ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return Promise.reject(this.expired(n, 0));
    this.waited++;
    const since = performance.now();
    return new Promise<() => void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        pixels: n,
        grant: () => {
          if (timer) clearTimeout(timer);
          resolve(this.take(n));
        },
      };
      this.queue.push(waiter);
      if (Number.isFinite(remaining)) {
        timer = setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i < 0) return;
          this.queue.splice(i, 1);
          reject(this.expired(n, performance.now() - since));
          // The head may have left: the next ones may fit now.
          this.pump();
        }, remaining);
        timer.unref?.();
      }
    });
  }

  private fits(n: number): boolean {
    return this.budget.fits(n);
  }

  /** Reserves `n` (callers checked that it fits); the release also grants the next waiters. */
  private take(n: number): () => void {
    const release = this.budget.tryAcquire(n)!;
    this.peakUsed = Math.max(this.peakUsed, this.budget.inUse);
    this.peakHolders = Math.max(this.peakHolders, this.budget.held);
    return () => {
      release(); // idempotent, so a second call only finds nobody new to grant
      this.pump();
    };
  }

  /** Grants waiters in order while the head fits. */
  private pump(): void {
    while (this.queue.length > 0 && this.fits(this.queue[0]!.pixels)) this.queue.shift()!.grant();
  }

  private expired(n: number, waitedMs: number) {
    return deadlineExceeded(
      `deadline passed after waiting ${Math.round(waitedMs)} ms to decode a ${mp(n)} MP image: ${mp(this.budget.inUse)} MP of images decoding (budget ${mp(this.maxPixels)} MP, MAX_INFLIGHT_PIXELS)`,
    );
  }
}

const mp = (pixels: number) => String(Math.round((pixels / MP) * 10) / 10);
