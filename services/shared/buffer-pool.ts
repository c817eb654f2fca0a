// Reuses the memory of large messages: the gateway's raw request bodies, the services' request
// messages. Every fresh multi-megabyte Buffer is external memory that counts towards V8's
// trigger for a full mark-compact collection, and its pages fault in on first write: at 12 MP
// that cost the gateway about a third of its CPU, and the resize service 16-32 ms per call.
//
// Memory goes back to the pool only when nothing can read it any more: its owner released it
// (the request was answered, the call's handler finished, or the body was never handed out) and
// no write of it to an upstream is in progress (the gateway's grpc-channel.ts tracks each one).
// A write that ended in an error may still be read by the native side, so that memory is never
// pooled again (nor is memory whose write never reports back); the GC frees it.

const MiB = 1024 * 1024;

/** The smallest size class: smaller bodies share it. */
export const MIN_CLASS_BYTES = 64 * 1024;
export const DEFAULT_MAX_RETAINED_BYTES = 128 * MiB;
const DEFAULT_MAX_CLASS_BYTES = 32 * MiB;
const DEFAULT_IDLE_MS = 30_000;

export interface BufferPoolOptions {
  /** Bytes kept for reuse at most, over all size classes. @default 128 MiB */
  readonly maxRetainedBytes?: number;
  /** Size classes above this are plain allocations, never kept. @default 32 MiB */
  readonly maxClassBytes?: number;
  /** Everything kept is dropped after this long without an acquire, so an idle gateway gives it back. @default 30000 */
  readonly idleMs?: number;
}

/** The power-of-two size class that holds `bytes`. */
export function sizeClass(bytes: number): number {
  return Math.max(MIN_CLASS_BYTES, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
}

/** Memory out of the pool: it goes back once released, with no write in progress and none failed. */
interface Loan {
  writes: number;
  /** By its owner: the request was answered (or the body never handed out). */
  released: boolean;
  tainted: boolean;
  readonly giveBack: () => void;
}

/** By backing store: the serialized request that is written is a view of the body's memory. */
const loans = new WeakMap<ArrayBufferLike, Loan>();
/** Views already released: a second release of one (or a late one, after reuse) is ignored. */
const releasedViews = new WeakSet<Uint8Array>();
const untracked = (): void => {};

export class BufferPool {
  readonly maxRetainedBytes: number;
  readonly maxClassBytes: number;
  readonly idleMs: number;
  private readonly free = new Map<number, ArrayBuffer[]>();
  private retained = 0;
  private reused = 0;
  private lastAcquire = 0;
  private idleTimer?: NodeJS.Timeout;

  constructor(options: BufferPoolOptions = {}) {
    this.maxRetainedBytes = options.maxRetainedBytes ?? DEFAULT_MAX_RETAINED_BYTES;
    this.maxClassBytes = Math.min(options.maxClassBytes ?? DEFAULT_MAX_CLASS_BYTES, this.maxRetainedBytes);
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** Bytes kept for reuse now. */
  get retainedBytes(): number {
    return this.retained;
  }

  /** Acquires served with kept memory, since the start. */
  get reuses(): number {
    return this.reused;
  }

  /**
   * Uninitialized memory for at least `bytes`: its size class (callers take a view of what they
   * need), or exactly `bytes` when the class is over the cap (never pooled). The caller owns it
   * until it calls `release` on a view of it.
   */
  acquire(bytes: number): Buffer {
    const size = sizeClass(bytes);
    if (size > this.maxClassBytes) return Buffer.allocUnsafeSlow(bytes);
    this.lastAcquire = performance.now();
    let memory = this.free.get(size)?.pop();
    if (memory) {
      this.retained -= size;
      this.reused++;
    } else {
      // A miss while other classes sit idle means the sizes changed; kept, their memory would
      // stay resident beside every new allocation (a resize service held 12 MP buffers through
      // a burst of 24 MP calls). A mixed load then pools less, never holds more.
      if (this.retained > 0) this.clear();
      memory = Buffer.allocUnsafeSlow(size).buffer as ArrayBuffer;
    }
    const kept = memory;
    loans.set(kept, {
      writes: 0,
      released: false,
      tainted: false,
      giveBack: () => {
        loans.delete(kept);
        this.keep(kept);
      },
    });
    // A new view per loan, so a stale release of an earlier one cannot match it.
    return Buffer.from(kept, 0, size);
  }

  /** Drops everything kept (the GC frees it). */
  clear(): void {
    this.free.clear();
    this.retained = 0;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private keep(memory: ArrayBuffer): void {
    const size = memory.byteLength;
    if (this.retained + size > this.maxRetainedBytes) return;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(memory);
    this.retained += size;
    this.scheduleIdleDrop();
  }

  /** One unref'd timer, re-armed from the last acquire rather than reset on every one. */
  private scheduleIdleDrop(): void {
    if (this.idleTimer) return;
    const wait = Math.max(0, this.lastAcquire + this.idleMs - performance.now());
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (performance.now() - this.lastAcquire >= this.idleMs) this.clear();
      else if (this.retained > 0) this.scheduleIdleDrop();
    }, wait);
    this.idleTimer.unref();
  }
}

function settle(loan: Loan): void {
  if (loan.released && loan.writes === 0 && !loan.tainted) loan.giveBack();
}

/**
 * The owner is done with `body` (a view of pooled memory): the request was answered, or the body
 * was never handed out. Its memory returns to the pool once no write of it is in progress.
 * Anything else (not pooled, not a Buffer, released before) is ignored.
 */
export function release(body: unknown): void {
  if (!(body instanceof Uint8Array) || releasedViews.has(body)) return;
  releasedViews.add(body);
  const loan = loans.get(body.buffer);
  if (!loan || loan.released) return;
  loan.released = true;
  settle(loan);
}

/**
 * Call before writing `bytes` to a stream; call what it returns when the write let go of them:
 * `true` once written, `false` when it ended in an error (the native side may still read them,
 * so their memory is never reused). A no-op for memory that is not pooled.
 */
export function trackSend(bytes: Uint8Array): (ok: boolean) => void {
  const loan = loans.get(bytes.buffer);
  if (!loan) return untracked;
  loan.writes++;
  let done = false;
  return (ok) => {
    if (done) return;
    done = true;
    loan.writes--;
    if (!ok) loan.tainted = true;
    settle(loan);
  };
}
