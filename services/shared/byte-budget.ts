// Admission by bytes: a process accepts request bodies only while the bytes it already holds for
// requests in flight stay under a budget, so a burst of large uploads is answered "busy" (503 +
// Retry-After) before it is read, instead of growing the heap past the container's memory limit.
// One request larger than the whole budget is still admitted when nothing else is in flight.
// The rule counts any amount: PixelBudget (pixel-budget.ts) admits decoded pixels by it too.
export class ByteBudget {
  private used = 0;
  private holders = 0;

  constructor(readonly maxBytes: number) {
    if (!(maxBytes > 0)) throw new Error(`maxBytes must be > 0, got ${maxBytes}`);
  }

  get inUse(): number {
    return this.used;
  }
  /** Reservations held now. */
  get held(): number {
    return this.holders;
  }

  /** Whether `bytes` would be admitted now. */
  fits(bytes: number): boolean {
    return this.holders === 0 || this.used + Math.max(0, bytes) <= this.maxBytes;
  }

  /** Reserves `bytes`; returns the release function (idempotent), or undefined when over budget. */
  tryAcquire(bytes: number): (() => void) | undefined {
    const n = Math.max(0, bytes);
    if (!this.fits(n)) return undefined;
    this.used += n;
    this.holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      this.holders--;
    };
  }
}
