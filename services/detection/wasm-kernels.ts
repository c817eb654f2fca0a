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
// The SIMD loops are a small WebAssembly module (simd-loops.ts), instantiated over the backend's
// own memory (so it reads and writes the tensors in place). Where it cannot be instantiated (no wasm
// SIMD, or a backend module that does not expose its memory) only Concat is replaced.
// tf.profile figures: services/detection/README.md.
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdLoops, type SimdLoops } from './simd-loops.js';
import { TopHeap } from './top-heap.js';

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
