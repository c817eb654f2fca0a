// The k best values of a row in tfjs's TopK order (greater value first, equal values by lower
// index), for the TopK kernel of wasm-kernels.ts: one scan, SIMD-skipping the chunks of 16 that
// hold nothing better than the worst kept entry.
import type { SimdLoops } from './simd-loops.js';

/** A binary heap of the k best with the worst kept entry at the root. */
export class TopHeap {
  private readonly values: Float64Array;
  private readonly indices: Int32Array;
  constructor(private readonly k: number) {
    this.values = new Float64Array(k);
    this.indices = new Int32Array(k);
  }

  /**
   * Fills the heap from xs[start, start + size) (at byte address `at` in the wasm memory);
   * false when the row holds a NaN.
   */
  scan(xs: Float32Array, start: number, size: number, at: number, simd: SimdLoops): boolean {
    const { k, values, indices } = this;
    for (let i = 0; i < k; i++) {
      const v = xs[start + i];
      if (v !== v) return false;
      values[i] = v;
      indices[i] = i;
    }
    for (let p = (k >> 1) - 1; p >= 0; p--) this.siftDown(p);
    // One at a time up to the first whole chunk of 16, then the chunks the SIMD loop finds, then the tail.
    const chunks = size >> 4;
    const firstChunk = Math.min((k + 15) >> 4, chunks);
    const tail = Math.max(chunks << 4, k);
    for (let i = k; i < firstChunk << 4; i++) if (!this.offer(xs[start + i], i)) return false;
    for (let chunk = firstChunk; ; chunk++) {
      chunk = simd.firstChunkAbove(at, chunk, chunks, values[0]);
      if (chunk >= chunks) break;
      for (let i = chunk << 4, end = i + 16; i < end; i++) if (!this.offer(xs[start + i], i)) return false;
    }
    for (let i = tail; i < size; i++) if (!this.offer(xs[start + i], i)) return false;
    return true;
  }

  /** Writes the kept entries best first to values/indices[at, at + k). */
  sortedInto(outValues: Float32Array, outIndices: Int32Array, at: number): void {
    const { k, values, indices } = this;
    const order = Array.from({ length: k }, (_, j) => j);
    order.sort((a, b) => (values[a] === values[b] ? indices[a] - indices[b] : values[a] > values[b] ? -1 : 1));
    for (let j = 0; j < k; j++) {
      outValues[at + j] = values[order[j]];
      outIndices[at + j] = indices[order[j]];
    }
  }

  /** Keeps value v at index i if it ranks above the worst kept; false for NaN. */
  private offer(v: number, i: number): boolean {
    // An equal value comes later, so it ranks below the kept one: only greater values enter.
    // `!(v <= worst)` is also true for NaN, which is then told apart.
    if (!(v <= this.values[0])) {
      if (v !== v) return false;
      this.values[0] = v;
      this.indices[0] = i;
      this.siftDown(0);
    }
    return true;
  }

  /** True when entry a ranks below entry b. */
  private below(a: number, b: number): boolean {
    const va = this.values[a];
    const vb = this.values[b];
    return va < vb || (va === vb && this.indices[a] > this.indices[b]);
  }

  private siftDown(p: number): void {
    const { k, values, indices } = this;
    for (;;) {
      const l = 2 * p + 1;
      if (l >= k) return;
      const m = l + 1 < k && this.below(l + 1, l) ? l + 1 : l;
      if (!this.below(m, p)) return;
      const v = values[p];
      const i = indices[p];
      values[p] = values[m];
      indices[p] = indices[m];
      values[m] = v;
      indices[m] = i;
      p = m;
    }
  }
}
