// The fast wasm kernels of the model worker (services/detection/wasm-kernels.ts) against tfjs's own
// wasm kernels, on the backend started as the worker starts it (threaded SIMD, 2 XNNPACK
// threads): exact equality (bit patterns, booleans, indices) on random inputs of the CenterNet
// shapes and on edge cases, the cases left to tfjs, and the model's output on real photos, bit
// for bit with the fast kernels on and off.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphModelFromDisk } from '../../services/detection/disk-model-io.js';
import { stretchedNhwc255 } from '../../services/detection/preprocess.js';
import { startWasmBackend } from '../../services/detection/wasm-backend.js';
import { type FastKernels, installFastKernels } from '../../services/detection/wasm-kernels.js';
import { photo } from '../fixtures/detection/photos.js';
import { rng } from '../support/images.js';

let fast: FastKernels;

beforeAll(async () => {
  const info = await startWasmBackend(dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm'))), 2);
  expect(info).toMatchObject({ threads: 2, simd: true });
  fast = installFastKernels();
});

afterAll(() => {
  // The pthread workers would keep the test process alive.
  (tf.backend() as unknown as { wasm: { PThread?: { terminateAllThreads(): void } } }).wasm.PThread?.terminateAllThreads();
});

type Result = tf.Tensor | tf.Tensor[] | { values: tf.Tensor; indices: tf.Tensor };
const tensors = (r: Result): tf.Tensor[] => (r instanceof tf.Tensor ? [r] : Array.isArray(r) ? r : [r.values, r.indices]);
const bytes = (t: tf.Tensor) => {
  if (t.dtype === 'string') return Buffer.from(JSON.stringify(t.arraySync()));
  const data = t.dataSync() as Float32Array | Int32Array | Uint8Array;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
};

/**
 * Runs `op` with tfjs's kernel and with the fast one; the outputs must match in dtype, shape and
 * every byte. `expectFast`: whether the fast path must have answered (false: left to tfjs).
 */
function compare(kernel: string, op: () => Result, expectFast = true): void {
  fast.enabled = false;
  const want = tf.tidy(op);
  fast.enabled = true;
  // Freed blocks of the outputs' sizes, full of 0xff: the fast outputs likely reuse them, so
  // whatever a kernel leaves unwritten shows.
  tf.dispose(tensors(want).map((t) => tf.fill([Math.ceil(bytes(t).length / 4)], -1, 'int32')));
  const before = fast.answered[kernel];
  const got = tf.tidy(op);
  expect(fast.answered[kernel] - before, `${kernel} answered by the fast path`).toBe(expectFast ? 1 : 0);
  const [w, g] = [tensors(want), tensors(got)];
  expect(g.map((t) => [t.dtype, t.shape])).toEqual(w.map((t) => [t.dtype, t.shape]));
  w.forEach((t, i) => {
    const [a, b] = [bytes(t), bytes(g[i])];
    if (!a.equals(b)) {
      let at = 0;
      while (a[at] === b[at]) at++;
      expect.fail(`${kernel} output ${i} differs from tfjs's at byte ${at} of ${a.length}`);
    }
  });
  tf.dispose([...w, ...g]);
}

/** For calls whose tfjs output is not defined (an empty reduction leaves it uninitialised). */
function leftToTfjs(kernel: string, op: () => Result): void {
  fast.enabled = true;
  const before = fast.answered[kernel];
  tf.dispose(tensors(tf.tidy(op)));
  expect(fast.answered[kernel] - before, `${kernel} answered by the fast path`).toBe(0);
}

/** Float32 values with a spread of magnitudes (so that float32 rounding shows in the sums). */
function floats(shape: number[], seed: number, scale = 1): tf.Tensor {
  const r = rng(seed);
  const v = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < v.length; i++) v[i] = (r() - 0.4) * scale * (r() < 0.01 ? 1000 : 1);
  return tf.tensor(v, shape, 'float32');
}

/** Values from a small set (many exact ties). */
function coarse(shape: number[], seed: number, levels = 8): tf.Tensor {
  const r = rng(seed);
  const v = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < v.length; i++) v[i] = Math.floor(r() * levels) / levels;
  return tf.tensor(v, shape, 'float32');
}

/** Float32 tensor with the given bit patterns (NaN payloads, -0, infinities). */
const fromBits = (bits: number[], shape = [bits.length]) => tf.tensor(new Float32Array(Int32Array.from(bits).buffer), shape, 'float32');
const SPECIAL_BITS = [0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0x7fa00001, 0xffc12345, 0x00000001, 0x3f800000, 0xbf800000] as const;

it('replaces Mean, Equal, Concat and TopK (the SIMD module instantiated over the backend memory)', () => {
  expect(Object.keys(fast.answered).sort()).toEqual(['Concat', 'Equal', 'Mean', 'TopK']);
});

describe('Mean over the spatial axes', () => {
  const MODEL_SHAPES = [
    [1, 128, 128, 128],
    [1, 64, 64, 72],
    [1, 64, 64, 96],
    [1, 32, 32, 384],
    [1, 32, 32, 528],
    [1, 16, 16, 528],
    [1, 16, 16, 720],
  ];

  it('equals tfjs bit for bit on the 9 squeeze-excite shapes of CenterNet', () => {
    MODEL_SHAPES.forEach((shape, i) => {
      const x = floats(shape, 10 + i, 6);
      compare('Mean', () => tf.mean(x, [1, 2], true));
      x.dispose();
    });
  });

  it('and on batches, one pixel, keepDims false, negative axes, long rows, signed zeros and infinities', () => {
    const cases: Array<[number[], number[], boolean]> = [
      [[2, 5, 7, 12], [1, 2], true],
      [[3, 9, 4, 4], [1, 2], false],
      [[1, 1, 1, 8], [1, 2], true],
      [[1, 1, 1, 4], [-3, -2], false],
      [[2, 40, 33, 20], [1, 2], true],
      [[1, 300, 300, 4], [1, 2], false],
      [[1, 2, 3, 1024], [1, 2], true],
    ];
    cases.forEach(([shape, axis, keepDims], i) => {
      const x = floats(shape, 30 + i, 100);
      compare('Mean', () => tf.mean(x, axis, keepDims));
      x.dispose();
    });
    // Per channel: signed zeros and a denormal; +inf; -inf; only -0 (the sum starts at +0).
    const special = fromBits([0, 0x7f800000, 0xff800000, 0x80000000, 0x80000000, 0x3f800000, 0xbf800000, 0x80000000, 0x3f800000, 0x80000000, 0, 0x80000000, 1, 0x40400000, 1, 0x80000000], [1, 2, 2, 4]);
    compare('Mean', () => tf.mean(special, [1, 2], true));
  });

  it('leaves other reductions, dtypes, ranks, channel counts, empty tensors and NaN sums to tfjs', () => {
    const x = floats([2, 6, 5, 4], 50);
    compare('Mean', () => tf.mean(x, [1, 2, 3]), false);
    compare('Mean', () => tf.mean(x, 3), false);
    compare('Mean', () => tf.mean(x, [0, 1]), false);
    compare('Mean', () => tf.mean(x, [2, 1]), false); // tfjs sums column by column then
    compare('Mean', () => tf.mean(floats([2, 5, 7, 13], 52), [1, 2]), false); // channels not a multiple of 4
    compare('Mean', () => tf.mean(floats([1, 3, 3, 2], 53), [1, 2], true), false);
    compare('Mean', () => tf.mean(x), false);
    compare('Mean', () => tf.mean(floats([6, 5, 4], 51), [0, 1]), false);
    compare('Mean', () => tf.mean(tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2], 'int32'), [1, 2]), false);
    leftToTfjs('Mean', () => tf.mean(tf.zeros([1, 0, 3, 4]), [1, 2]));
    // A NaN sum (NaN or +inf and -inf in a channel): the bits of the NaN are tfjs's.
    compare('Mean', () => tf.mean(fromBits([...SPECIAL_BITS, ...SPECIAL_BITS.slice(0, 6)], [1, 2, 2, 4]), [1, 2]), false);
    compare('Mean', () => tf.mean(fromBits([0x7f800000, 0, 0xff800000, 0], [1, 2, 1, 2]), [1, 2]), false);
    x.dispose();
  });
});

describe('Equal of same-shape tensors', () => {
  it("equals tfjs on the model's peak test, heat == maxpool(heat), on [1,128,128,80]", () => {
    const heat = coarse([1, 128, 128, 80], 60, 64);
    const pooled = tf.maxPool(heat as tf.Tensor4D, 3, 1, 'same');
    compare('Equal', () => tf.equal(heat, pooled));
    tf.dispose([heat, pooled]);
  });

  it('and on NaN, signed zeros, infinities, int32, and sizes that are not a multiple of 4', () => {
    // 10 special values × 4 (in the SIMD blocks of 16 and in the tail), against themselves and shifted.
    const bits = [...SPECIAL_BITS, ...SPECIAL_BITS, ...SPECIAL_BITS, ...SPECIAL_BITS];
    const a = fromBits(bits);
    for (const shift of [0, 1, 3, 7]) {
      const b = fromBits([...bits.slice(shift), ...bits.slice(0, shift)]);
      compare('Equal', () => tf.equal(a, b)); // NaN == NaN is false, -0 == 0 true
      b.dispose();
    }
    for (const n of [1, 2, 3, 5, 7, 13, 16, 17, 31, 33, 100]) {
      const [x, y] = [coarse([n], n, 2), coarse([n], n + 100, 2)];
      compare('Equal', () => tf.equal(x, y));
      tf.dispose([x, y]);
    }
    const i1 = tf.tensor2d(Array.from({ length: 60 }, (_, i) => (i * 7) % 5), [3, 20], 'int32');
    const i2 = tf.tensor2d(Array.from({ length: 60 }, (_, i) => (i * 3) % 5), [3, 20], 'int32');
    compare('Equal', () => tf.equal(i1, i2));
    tf.dispose([a, i1, i2]);
  });

  it('leaves broadcasting, bool inputs and empty tensors to tfjs', () => {
    const a = coarse([4, 3], 70, 3);
    compare('Equal', () => tf.equal(a, coarse([3], 71, 3)), false);
    compare('Equal', () => tf.equal(a, tf.scalar(1 / 3)), false);
    compare('Equal', () => tf.equal(tf.tensor1d([true, false, true], 'bool'), tf.tensor1d([true, true, true], 'bool')), false);
    compare('Equal', () => tf.equal(tf.zeros([0, 3]), tf.zeros([0, 3])), false);
    a.dispose();
  });
});

describe('Concat', () => {
  it("equals tfjs on the model's concatenations", () => {
    const cases: Array<[number[][], number]> = [
      [[[1, 128, 128, 64], [1, 128, 128, 64]], -1],
      [[[1, 64, 64, 96], [1, 64, 64, 96]], 3],
      [[[1, 32, 32, 128], [1, 32, 32, 128]], 3],
      [Array.from({ length: 6 }, () => [1, 100, 1]), 2],
    ];
    cases.forEach(([shapes, axis], i) => {
      const xs = shapes.map((s, j) => floats(s, 80 + 10 * i + j));
      compare('Concat', () => tf.concat(xs, axis));
      tf.dispose(xs);
    });
  });

  it('and on every axis, uneven widths, int32 and bool, and NaN payloads', () => {
    const xs = [floats([2, 3, 4], 90), floats([2, 3, 1], 91), floats([2, 3, 7], 92)];
    compare('Concat', () => tf.concat(xs, 2));
    compare('Concat', () => tf.concat([floats([2, 3, 4], 93), floats([5, 3, 4], 94)], 0));
    compare('Concat', () => tf.concat([floats([2, 3, 4], 95), floats([2, 1, 4], 96)], 1));
    compare('Concat', () => tf.concat([tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4], 'int32')]));
    compare('Concat', () => tf.concat([tf.tensor2d([true, false], [2, 1], 'bool'), tf.tensor2d([false, false, true, true], [2, 2], 'bool')], 1));
    compare('Concat', () => tf.concat([fromBits([...SPECIAL_BITS], [2, 5]), fromBits([...SPECIAL_BITS].reverse(), [2, 5])], 1));
    tf.dispose(xs);
  });

  it('leaves one input, empty inputs and strings to tfjs', () => {
    compare('Concat', () => tf.concat([floats([2, 3], 97)], 1), false);
    compare('Concat', () => tf.concat([floats([2, 3], 98), tf.zeros([2, 0])], 1), false);
    compare('Concat', () => tf.concat([tf.tensor1d(['a', 'b'], 'string'), tf.tensor1d(['c'], 'string')]), false);
  });
});

describe('TopK, sorted', () => {
  it("equals tfjs, values and indices, on the model's [1,1310720] of peaks (mostly exact zeros) with k = 100", () => {
    const heat = coarse([1, 128, 128, 80], 100, 256);
    const pooled = tf.maxPool(heat as tf.Tensor4D, 3, 1, 'same');
    const peaks = tf.reshape(tf.mul(heat, tf.cast(tf.equal(heat, pooled), 'float32')), [1, 1310720]);
    compare('TopK', () => tf.topk(peaks, 100, true));
    tf.dispose([heat, pooled, peaks]);
  });

  it('and with ties at the cut, k = 1 and k = the whole row, batches, signed zeros and infinities', () => {
    const tied = coarse([3, 1000], 110, 5); // ~200 of each value: the k-th value is tied
    for (const k of [1, 10, 199, 200, 201, 999, 1000]) compare('TopK', () => tf.topk(tied, k, true));
    const special = fromBits([0x80000000, 0x00000000, 0x7f800000, 0xff800000, 0x80000000, 0x7f800000, 0x3f800000, 0x00000000, 0xff800000]);
    for (const k of [1, 3, 5, 9]) compare('TopK', () => tf.topk(special, k, true));
    const wide = floats([2, 70_000], 111);
    compare('TopK', () => tf.topk(wide, 64, true));
    compare('TopK', () => tf.topk(tf.tensor1d([5]), 1, true));
    // The best values before, inside and after the whole chunks of 16 the SIMD loop scans.
    for (const p of [0, 2, 15, 16, 20, 31, 32, 35, 39]) {
      const row = Array.from({ length: 40 }, (_, i) => (i % 3) / 4);
      row[p] = 2;
      row[39 - p] = 1;
      for (const k of [1, 2, 3, 18]) compare('TopK', () => tf.topk(tf.tensor1d(row), k, true));
    }
    tf.dispose([tied, special, wide]);
  });

  it('leaves sorted = false, int32 and rows with a NaN to tfjs', () => {
    const x = coarse([2, 50], 120, 7);
    compare('TopK', () => tf.topk(x, 5, false), false);
    compare('TopK', () => tf.topk(tf.tensor1d([3, 1, 2, 3], 'int32'), 2, true), false);
    compare('TopK', () => tf.topk(tf.tensor1d([0.5, NaN, 0.1, 0.7]), 2, true), false);
    compare('TopK', () => tf.topk(tf.tensor1d([NaN, 0.5, 0.1, 0.7]), 2, true), false); // NaN among the first k
    compare('TopK', () => tf.topk(tf.tensor2d([0.5, 0.2, 0.1, 0.7, 0.3, NaN], [2, 3]), 1, true), false); // in a later row
    for (const p of [5, 20, 37]) {
      // Before, in and after the chunks of 16 (NaN is never <= the limit, so the SIMD loop stops on it).
      const row = Array.from({ length: 40 }, (_, i) => i / 40);
      row[p] = NaN;
      compare('TopK', () => tf.topk(tf.tensor1d(row), 3, true), false);
    }
    x.dispose();
  });
});

describe('the CenterNet model', () => {
  let model: GraphModel;
  beforeAll(async () => {
    model = await loadGraphModel(graphModelFromDisk('node_modules/@vladmandic/human/models/centernet.json'));
  });

  it('gives bit-identical detections with the fast kernels on real photos, every fast kernel answering', async () => {
    for (const name of ['astronaut', 'coffee'] as const) {
      const input = tf.tensor(await stretchedNhwc255(sharp(photo(name)), 512, 512), [1, 512, 512, 3], 'float32');
      const before = { ...fast.answered };
      compare('TopK', () => model.execute(input, 'tower_0/detections') as tf.Tensor);
      // One inference: 9 spatial means, the peak test, 4 concatenations, the top 100.
      expect(Object.fromEntries(Object.entries(fast.answered).map(([k, v]) => [k, v - before[k]]))).toEqual({ Mean: 9, Equal: 1, Concat: 4, TopK: 1 });
      input.dispose();
    }
  });
});
