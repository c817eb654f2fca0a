// Admission by bytes: a process accepts request bodies only while the bytes it already holds for
// requests in flight stay under a budget, so a burst of large uploads is answered "busy" (503 +
// Retry-After) before it is read, instead of growing the heap past the container's memory limit.
// One request larger than the whole budget is still admitted when nothing else is in flight.
export class ByteBudget {
  private used = 0;
  private holders = 0;

  constructor(readonly maxBytes: number) {
    if (!(maxBytes > 0)) throw new Error(`maxBytes must be > 0, got ${maxBytes}`);
  }

  get inUse(): number {
    return this.used;
  }

  /** Reserves `bytes`; returns the release function, or undefined when over budget. */
  tryAcquire(bytes: number): (() => void) | undefined {
    const n = Math.max(0, bytes);
    if (this.holders > 0 && this.used + n > this.maxBytes) return undefined;
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
