// Faster wasm-backend kernels for the ops the CenterNet graph runs outside XNNPACK (on one thread),
// installed in the model worker after the backend has started. Each wraps tfjs's kernel, answers
// the cases it handles with bit-identical results and hands every other call to the original:
// - Mean over the spatial axes [1, 2] of an NHWC float32 tensor with a multiple of 4 channels (the
//   global average pooling of the 9 squeeze-excite blocks). tfjs transposes the whole tensor so
//   that the reduced axes are innermost, then sums each channel in float32 in pixel order; this
//   adds each pixel's channels to 4-lane float32 accumulators straight from the NHWC layout, in
//   the same pixel order, and divides in float32 (an f64 divide of two float32s rounded to
//   float32 is the float32 quotient), so the numbers are the same. A NaN sum, whose bits depend
//   on how each engine propagates NaN payloads, sends the call to tfjs.
// - Equal of two same-shape float32/int32 tensors (the peak test heat == maxpool(heat)): tfjs's
//   binary kernel walks a broadcasting index per element; this compares 16 elements per step
//   with SIMD (f32x4.eq is C++'s `==`: NaN unequal, -0 equal to 0).
// - Concat of non-string tensors: tfjs copies each row through a new subarray view (32 768 of
//   them for two [1,128,128,64] on the last axis); this moves the same bytes with copyWithin on
//   the heap, no view per row.
// - TopK with sorted = true on float32 without NaN: tfjs selects (Floyd-Rivest) over a copy of
//   every (value, index) pair, then sorts the k; with its order "greater value first, equal
//   values by lower index" the result is unique, so a k-entry heap filled in one scan (an element
//   enters only when greater than the worst kept) gives the same values and indices. The scan
//   skips, with SIMD, the 16-value chunks holding nothing greater than the worst kept. NaN breaks
//   that order (tfjs's result then depends on its algorithm), so an input with one goes to tfjs.
// The SIMD loops are a small WebAssembly module built below, instantiated over the backend's own
// memory (so it reads and writes the tensors in place). Where it cannot be instantiated (no wasm
// SIMD, or a backend module that does not expose its memory) only Concat is replaced.
// tf.profile figures: services/detection/README.md.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Info = tf.TensorInfo;
type Fast = (args: KernelArgs, backend: BackendWasm) => Info | Info[] | undefined;

/** The replaced kernels' switch and counters, for the tests and for measuring. */
export interface FastKernels {
  /** false: every call goes to tfjs's kernel (to compare and to measure). Default true. */
  enabled: boolean;
  /** Calls answered by the fast path, per replaced kernel (the rest went to tfjs's kernel). */
  readonly answered: Record<string, number>;
}

let installed: FastKernels | undefined;

/**
 * Installs the fast kernels over the registered wasm ones, for the current wasm backend (call
 * after it has started). Once: later calls return the same switch.
 */
export function installFastKernels(): FastKernels {
  if (installed) return installed;
  const state: FastKernels = { enabled: true, answered: {} };
  replace('Concat', concat, state);
  const backend = tf.findBackend('wasm') as BackendWasm | undefined;
  const simd = backend && simdLoops(backend);
  if (backend && simd) {
    // Only for the backend whose memory the SIMD module works on.
    const own = (fast: Fast): Fast => (args, b) => (b === backend ? fast(args, b) : undefined);
    replace('Mean', own(spatialMean(simd)), state);
    replace('Equal', own(sameShapeEqual(simd)), state);
    replace('TopK', own(sortedTopK(simd)), state);
  }
  installed = state;
  return state;
}

/** Wraps the registered wasm kernel: `fast` answers what it can, the original the rest. */
function replace(name: string, fast: Fast, state: FastKernels): void {
  const original = tf.getKernel(name, 'wasm');
  if (!original) throw new Error(`no wasm kernel ${name} to replace`);
  state.answered[name] = 0;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const out = state.enabled ? fast(args, args.backend as BackendWasm) : undefined;
      if (out === undefined) return original.kernelFunc(args);
      state.answered[name]++;
      return out;
    },
  });
}

/** Byte address of a tensor in the wasm memory. */
function address(backend: BackendWasm, t: Info): number {
  return (backend.dataIdMap.get(t.dataId) as unknown as { memoryOffset: number }).memoryOffset;
}

function spatialMean(simd: SimdLoops): Fast {
  return (args, backend) => {
    const x = args.inputs.x as Info;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== 'float32' || x.shape.length !== 4 || tf.util.sizeFromShape(x.shape) === 0) return undefined;
    // [1, 2] in this order: tfjs sums in the order the axes are given ([2, 1]: column by column).
    const axes = tf.util.parseAxisParam(axis, x.shape);
    if (axes.length !== 2 || axes[0] !== 1 || axes[1] !== 2) return undefined;
    const [n, h, w, c] = x.shape;
    if (c % 4 !== 0) return undefined;
    const out = backend.makeOutput(keepDims ? [n, 1, 1, c] : [n, c], 'float32');
    // Views after makeOutput: its allocation may grow (and so replace) the wasm memory.
    const means = backend.typedArrayFromHeap(out) as Float32Array;
    const pixels = h * w;
    // The output holds the running sums of each batch (zeroed), then their means.
    means.fill(0);
    for (let b = 0; b < n; b++) simd.sumPixels(address(backend, x) + b * pixels * c * 4, address(backend, out) + b * c * 4, pixels, c * 4);
    for (let i = 0; i < means.length; i++) {
      const sum = means[i];
      if (sum !== sum) {
        backend.disposeData(out.dataId);
        return undefined;
      }
      means[i] = sum / pixels;
    }
    return out;
  };
}

function sameShapeEqual(simd: SimdLoops): Fast {
  return (args, backend) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    if (a.dtype !== b.dtype || (a.dtype !== 'float32' && a.dtype !== 'int32')) return undefined;
    if (!tf.util.arraysEqual(a.shape, b.shape)) return undefined; // broadcasting: tfjs
    const size = tf.util.sizeFromShape(a.shape);
    if (size === 0) return undefined;
    const out = backend.makeOutput(a.shape, 'bool');
    const blocks = size >> 4;
    const equal = a.dtype === 'float32' ? simd.equalF32 : simd.equalI32;
    equal(address(backend, a), address(backend, b), address(backend, out), blocks);
    const xa = backend.typedArrayFromHeap(a);
    const xb = backend.typedArrayFromHeap(b);
    const bytes = backend.typedArrayFromHeap(out) as Uint8Array;
    for (let i = blocks << 4; i < size; i++) bytes[i] = +(xa[i] === xb[i]);
    return out;
  };
}

function concat(args: KernelArgs, backend: BackendWasm): Info | undefined {
  const inputs = args.inputs as unknown as Info[];
  if (inputs.length < 2) return undefined;
  const { dtype, shape } = inputs[0];
  if (dtype === 'string' || dtype === 'complex64') return undefined;
  const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, shape)[0];
  const outShape = shape.slice();
  outShape[axis] = 0;
  for (const t of inputs) {
    // tfjs's kernel drops empty inputs and checks the shapes; leave those cases to it.
    if (t.dtype !== dtype || t.shape.length !== shape.length || tf.util.sizeFromShape(t.shape) === 0) return undefined;
    for (let d = 0; d < shape.length; d++) if (d !== axis && t.shape[d] !== shape[d]) return undefined;
    outShape[axis] += t.shape[axis];
  }
  const out = backend.makeOutput(outShape, dtype);
  const heap = new Uint8Array(backend.typedArrayFromHeap(out).buffer); // the whole heap, after makeOutput
  const bytesPer = tf.util.bytesPerElement(dtype);
  const rows = tf.util.sizeFromShape(shape.slice(0, axis));
  const outRow = tf.util.sizeFromShape(outShape.slice(axis)) * bytesPer;
  const outStart = address(backend, out);
  let column = 0;
  for (const t of inputs) {
    const row = tf.util.sizeFromShape(t.shape.slice(axis)) * bytesPer;
    for (let r = 0, src = address(backend, t), dst = outStart + column; r < rows; r++, src += row, dst += outRow) {
      heap.copyWithin(dst, src, src + row);
    }
    column += row;
  }
  return out;
}

function sortedTopK(simd: SimdLoops): Fast {
  return (args, backend) => {
    const x = args.inputs.x as Info;
    const { k, sorted } = args.attrs as { k: number; sorted: boolean };
    if (x.dtype !== 'float32' || !sorted || x.shape.length === 0) return undefined;
    const size = x.shape[x.shape.length - 1];
    const rows = tf.util.sizeFromShape(x.shape) / size;
    if (!(k >= 1 && k <= size) || rows === 0) return undefined;
    const xs = backend.typedArrayFromHeap(x) as Float32Array;
    const values = new Float32Array(rows * k);
    const indices = new Int32Array(rows * k);
    const heap = new TopHeap(k);
    for (let r = 0; r < rows; r++) {
      if (!heap.scan(xs, r * size, size, address(backend, x) + r * size * 4, simd)) return undefined; // NaN
      heap.sortedInto(values, indices, r * k);
    }
    const outShape = x.shape.slice();
    outShape[outShape.length - 1] = k;
    const outValues = backend.makeOutput(outShape, 'float32');
    const outIndices = backend.makeOutput(outShape, 'int32');
    (backend.typedArrayFromHeap(outValues) as Float32Array).set(values);
    (backend.typedArrayFromHeap(outIndices) as Int32Array).set(indices);
    return [outValues, outIndices];
  };
}

/**
 * The k best of a row in tfjs's TopK order (greater value first, equal values by lower index),
 * as a binary heap with the worst kept entry at the root.
 */
class TopHeap {
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

// ---- The SIMD loops: a WebAssembly module importing the backend's memory ----

/** The module's functions; addresses are byte offsets in the backend's memory. */
interface SimdLoops {
  /** acc[0, rowBytes) += each of `pixels` rows of rowBytes (a multiple of 16) from x, in row order, in float32 lanes. */
  sumPixels(x: number, acc: number, pixels: number, rowBytes: number): void;
  /** out[i] = a[i] == b[i] ? 1 : 0 for 16 × blocks float32 (or int32) elements. */
  equalF32(a: number, b: number, out: number, blocks: number): void;
  equalI32(a: number, b: number, out: number, blocks: number): void;
  /** The first chunk of 16 float32 in [chunk, chunks) (numbered from x) holding a value not <= limit (greater, or NaN); chunks if none. */
  firstChunkAbove(x: number, chunk: number, chunks: number, limit: number): number;
}

/** The WebAssembly API (this project's TypeScript lib has no wasm typings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, (...args: number[]) => number> };
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };

/** The SIMD loops over the backend's memory, or undefined where they cannot run. */
function simdLoops(backend: BackendWasm): SimdLoops | undefined {
  // The threaded build exposes its (shared) memory as wasmMemory, the others as an export.
  const module = backend.wasm as unknown as { wasmMemory?: { buffer: ArrayBufferLike }; asm?: { memory?: { buffer: ArrayBufferLike } } };
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (!memory) return undefined;
  const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
  try {
    const { exports } = new wasmApi.Instance(new wasmApi.Module(simdModule(shared)), { env: { memory } });
    return {
      sumPixels: exports.sumPixels,
      equalF32: exports.equalF32,
      equalI32: exports.equalI32,
      firstChunkAbove: exports.firstChunkAbove,
    };
  } catch {
    return undefined; // no wasm SIMD here
  }
}

// Binary encoding (WebAssembly core spec 2.0, with the fixed-width SIMD opcodes).
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    const byte = n & 0x7f;
    n >>>= 7;
    out.push(n ? byte | 0x80 : byte);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(byte & 0x40)) || (n === -1 && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
};
const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => vector([...s].map((ch) => [ch.charCodeAt(0)]));
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
// Instructions.
const get = (local: number) => [0x20, local];
const set = (local: number) => [0x21, local];
const i32 = (n: number) => [0x41, ...sleb(n)];
const ADD = [0x6a];
const SUB = [0x6b];
const SHL = [0x74];
const GE_U = [0x4f];
const EQZ = [0x45];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const br = (depth: number) => [0x0c, depth];
const brIf = (depth: number) => [0x0d, depth];
const simdOp = (op: number) => [0xfd, ...uleb(op)];
const load = (offset = 0) => [...simdOp(0x00), 0 /* align 1: no alignment assumed */, ...uleb(offset)];
const store = (offset = 0) => [...simdOp(0x0b), 0, ...uleb(offset)];
const F32X4_SPLAT = simdOp(0x13);
const F32X4_ADD = simdOp(0xe4);
const F32X4_EQ = simdOp(0x41);
const F32X4_LE = simdOp(0x45);
const I32X4_EQ = simdOp(0x37);
const I32X4_ALL_TRUE = simdOp(0xa3);
const V128_AND = simdOp(0x4e);
const I16X8_NARROW_I32X4_S = simdOp(0x85);
const I8X16_NARROW_I16X8_S = simdOp(0x65);
const I8X16_NEG = simdOp(0x61);
/** `while (counter-- > 0) { body }`, counter a local. */
const countdown = (counter: number, body: number[]) => [
  ...BLOCK,
  ...LOOP,
  ...get(counter), ...EQZ, ...brIf(1),
  ...body,
  ...get(counter), ...i32(1), ...SUB, ...set(counter),
  ...br(0),
  ...END,
  ...END,
];

interface Func {
  name: string;
  params: number[];
  results: number[];
  locals: number[];
  body: number[];
}

const SUM_PIXELS: Func = {
  // (x, acc, pixels, rowBytes; i): per pixel, for i in 0, 16, ... < rowBytes: acc[i..] = acc[i..] + x[i..]; x += rowBytes.
  name: 'sumPixels',
  params: [I32, I32, I32, I32],
  results: [],
  locals: [I32],
  body: countdown(2, [
    ...i32(0), ...set(4),
    ...BLOCK,
    ...LOOP,
    ...get(4), ...get(3), ...GE_U, ...brIf(1),
    ...get(1), ...get(4), ...ADD,
    ...get(1), ...get(4), ...ADD, ...load(),
    ...get(0), ...get(4), ...ADD, ...load(),
    ...F32X4_ADD,
    ...store(),
    ...get(4), ...i32(16), ...ADD, ...set(4),
    ...br(0),
    ...END,
    ...END,
    ...get(0), ...get(3), ...ADD, ...set(0),
  ]),
};

const equal = (funcName: string, eq: number[]): Func => ({
  // (a, b, out, blocks): per block of 16, four 4-lane compares (all-ones / zero lanes) narrowed
  // to 16 bytes of -1 / 0, negated to 1 / 0; a, b += 64; out += 16.
  name: funcName,
  params: [I32, I32, I32, I32],
  results: [],
  locals: [],
  body: countdown(3, [
    ...get(2),
    ...get(0), ...load(0), ...get(1), ...load(0), ...eq,
    ...get(0), ...load(16), ...get(1), ...load(16), ...eq, ...I16X8_NARROW_I32X4_S,
    ...get(0), ...load(32), ...get(1), ...load(32), ...eq,
    ...get(0), ...load(48), ...get(1), ...load(48), ...eq, ...I16X8_NARROW_I32X4_S,
    ...I8X16_NARROW_I16X8_S,
    ...I8X16_NEG,
    ...store(),
    ...get(0), ...i32(64), ...ADD, ...set(0),
    ...get(1), ...i32(64), ...ADD, ...set(1),
    ...get(2), ...i32(16), ...ADD, ...set(2),
  ]),
});

const FIRST_CHUNK_ABOVE: Func = {
  // (x, chunk, chunks, limit; limit4, at) -> chunk: while chunk < chunks, at = x + 64 × chunk:
  // leave when not all 16 lanes of at[0..64) are <= limit, else chunk += 1.
  name: 'firstChunkAbove',
  params: [I32, I32, I32, F32],
  results: [I32],
  locals: [V128, I32],
  body: [
    ...get(3), ...F32X4_SPLAT, ...set(4),
    ...BLOCK,
    ...LOOP,
    ...get(1), ...get(2), ...GE_U, ...brIf(1),
    ...get(0), ...get(1), ...i32(6), ...SHL, ...ADD, ...set(5),
    ...get(5), ...load(0), ...get(4), ...F32X4_LE,
    ...get(5), ...load(16), ...get(4), ...F32X4_LE, ...V128_AND,
    ...get(5), ...load(32), ...get(4), ...F32X4_LE, ...V128_AND,
    ...get(5), ...load(48), ...get(4), ...F32X4_LE, ...V128_AND,
    ...I32X4_ALL_TRUE, ...EQZ, ...brIf(1),
    ...get(1), ...i32(1), ...ADD, ...set(1),
    ...br(0),
    ...END,
    ...END,
    ...get(1),
  ],
};

const FUNCS = [SUM_PIXELS, equal('equalF32', F32X4_EQ), equal('equalI32', I32X4_EQ), FIRST_CHUNK_ABOVE];

/** The module: imports env.memory (shared: up to 65 536 pages, as Emscripten's threaded build declares it). */
function simdModule(shared: boolean): Uint8Array {
  const limits = shared ? [0x03, 0, ...uleb(65536)] : [0x00, 0];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vector(FUNCS.map((f) => [0x60, ...vector(f.params.map((p) => [p])), ...vector(f.results.map((r) => [r]))]))),
    ...section(2, vector([[...name('env'), ...name('memory'), 0x02, ...limits]])),
    ...section(3, vector(FUNCS.map((_, i) => uleb(i)))),
    ...section(7, vector(FUNCS.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(
      10,
      vector(
        FUNCS.map((f) => {
          const body = [...vector(f.locals.map((t) => [1, t])), ...f.body, ...END];
          return [...uleb(body.length), ...body];
        }),
      ),
    ),
  ]);
}
