// The tfjs → ONNX conversion (services/detection/tfjs-to-onnx.ts) against tfjs itself: the shipped
// CenterNet on real photos through onnxruntime and through tfjs on wasm, small hand-written graphs
// for the cases CenterNet does not exercise (odd sizes with SAME padding, a depthwise multiplier,
// every resize mode, negative integer division, strided slices, float16 weights), and the errors
// for what it cannot convert.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CENTERNET_INPUT, CENTERNET_OUTPUT, decodeCenternet } from '../../services/detection/centernet-decoder.js';
import { graphModelFromDisk } from '../../services/detection/disk-model-io.js';
import { selectDetections } from '../../services/detection/nms.js';
import { stretchedNhwc255 } from '../../services/detection/preprocess.js';
import { tfjsGraphToOnnx } from '../../services/detection/tfjs-to-onnx.js';
import { startWasmBackend } from '../../services/detection/wasm-backend.js';
import { photo, type PhotoName } from '../fixtures/detection/photos.js';
import { rng } from '../support/images.js';

const CENTERNET = fileURLToPath(new URL('../../node_modules/@vladmandic/human/models/centernet.json', import.meta.url));
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'imageflow-onnx-'));
  await startWasmBackend(dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm'))), 1);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `outputs` of a tfjs graph model on onnxruntime (converted) and on tfjs; the inputs are NHWC float32. */
async function bothWays(modelFile: string, inputs: Record<string, { data: Float32Array; shape: number[] }>, outputs: string[]) {
  const session = await ort.InferenceSession.create(tfjsGraphToOnnx(modelFile, outputs), { logSeverityLevel: 3 });
  const feeds = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.shape)]));
  const fromOrt = await session.run(feeds);
  const model = await loadGraphModel(graphModelFromDisk(modelFile));
  const fromTfjs = tf.tidy(() => {
    const ts = model.execute(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, tf.tensor(v.data, v.shape, 'float32')])), outputs) as tf.Tensor[];
    return (Array.isArray(ts) ? ts : [ts]).map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
  });
  await session.release();
  return outputs.map((name, k) => ({ name, ort: fromOrt[name].data as Float32Array, ortShape: [...fromOrt[name].dims], tfjs: fromTfjs[k].data, tfjsShape: fromTfjs[k].shape }));
}

describe('the shipped CenterNet on onnxruntime', () => {
  it.each(['astronaut', 'coffee', 'chelsea'] as PhotoName[])('gives tfjs’s detections on %s', async (name) => {
    const input = await stretchedNhwc255(sharp(photo(name)), 512, 512);
    const [out] = await bothWays(CENTERNET, { [CENTERNET_INPUT]: { data: input, shape: [1, 512, 512, 3] } }, [CENTERNET_OUTPUT]);
    expect(out.ortShape).toEqual([1, 100, 6]);
    const select = (o: Float32Array) =>
      selectDetections(decodeCenternet(o, { width: 512, height: 512 }, { width: 512, height: 512 }, 80), { confidenceThreshold: 0.2, iouThreshold: 0.45, maxDetections: 100 });
    const [a, b] = [select(out.tfjs), select(out.ort)];
    expect(a.length).toBeGreaterThan(0);
    expect(b.map((d) => d.classId)).toEqual(a.map((d) => d.classId));
    b.forEach((d, k) => {
      expect(Math.abs(d.score - a[k].score)).toBeLessThan(2e-3);
      for (const key of ['x1', 'y1', 'x2', 'y2'] as const) expect(Math.abs(d[key] - a[k][key])).toBeLessThan(0.5);
    });
  }, 60_000);
});

// ── hand-written graphs ──────────────────────────────────────────────────────────────────────
type Attr = Record<string, unknown>;
const s = (text: string): Attr => ({ s: Buffer.from(text).toString('base64') });
const ints = (...v: number[]): Attr => ({ list: { i: v.map(String) } });
const strs = (...v: string[]): Attr => ({ list: { s: v.map((t) => Buffer.from(t).toString('base64')) } });
const T = (type = 'DT_FLOAT'): Attr => ({ type });

interface W {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: number[];
  float16?: boolean;
}

function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = (x >>> 13) & 0x3ff; // truncation is fine: the test values are exact in half precision
  if (exp <= 0) return sign;
  return sign | (exp << 10) | mant;
}

/** Writes a tfjs graph model (model.json + one shard) and returns the model.json path. */
function writeModel(name: string, nodes: Array<{ name: string; op: string; input?: string[]; attr?: Record<string, Attr> }>, weights: W[]): string {
  const parts: Buffer[] = [];
  for (const w of weights) {
    if (w.float16) parts.push(Buffer.from(new Uint16Array(w.values.map(toHalf)).buffer));
    else parts.push(Buffer.from((w.dtype === 'int32' ? Int32Array.from(w.values) : Float32Array.from(w.values)).buffer));
  }
  const consts = weights.map((w) => ({ name: w.name, op: 'Const', attr: { dtype: T(w.dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT'), value: {} } }));
  const file = join(dir, `${name}.json`);
  writeFileSync(join(dir, `${name}.bin`), Buffer.concat(parts));
  writeFileSync(
    file,
    JSON.stringify({
      format: 'graph-model',
      modelTopology: { node: [...consts, ...nodes], versions: {} },
      weightsManifest: [
        {
          paths: [`${name}.bin`],
          weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: w.dtype, ...(w.float16 ? { quantization: { dtype: 'float16', original_dtype: 'float32' } } : {}) })),
        },
      ],
    }),
  );
  return file;
}

const random = (n: number, seed: number, scale = 1) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => (r() * 2 - 1) * scale);
};
const placeholder = (name: string, dims: number[]) => ({ name, op: 'Placeholder', attr: { dtype: T(), shape: { shape: { dim: dims.map((d) => ({ size: String(d) })) } } } });
const expectClose = (out: { ort: Float32Array; tfjs: Float32Array; ortShape: number[]; tfjsShape: number[]; name: string }, tolerance = 1e-4) => {
  expect(out.ortShape, out.name).toEqual(out.tfjsShape);
  let worst = 0;
  out.ort.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - out.tfjs[k]))));
  expect(worst, out.name).toBeLessThan(tolerance);
};

describe('hand-written graphs, converted and run on onnxruntime, against tfjs', () => {
  it('convolutions with SAME padding on odd sizes, a depthwise multiplier, fused activations, pooling, means, float16 weights', async () => {
    const file = writeModel(
      'convs',
      [
        placeholder('x', [1, 8, 9, 3]), // 8 rows at stride 2: one padding row, at the end in TF's SAME
        { name: 'dw', op: 'DepthwiseConv2dNative', input: ['x', 'dw_w'], attr: { T: T(), strides: ints(1, 2, 2, 1), padding: s('SAME'), dilations: ints(1, 1, 1, 1), data_format: s('NHWC') } },
        {
          name: 'pw',
          op: '_FusedConv2D',
          input: ['dw', 'pw_w', 'pw_b'],
          attr: { T: T(), strides: ints(1, 1, 1, 1), padding: s('VALID'), dilations: ints(1, 1, 1, 1), data_format: s('NHWC'), fused_ops: strs('BiasAdd', 'Relu6'), num_args: { i: '1' } },
        },
        {
          name: 'c3',
          op: '_FusedConv2D',
          input: ['x', 'c3_w', 'c3_b'],
          attr: { T: T(), strides: ints(1, 2, 2, 1), padding: s('SAME'), dilations: ints(1, 1, 1, 1), data_format: s('NHWC'), fused_ops: strs('BiasAdd', 'Relu'), num_args: { i: '1' } },
        },
        {
          name: 'fdw',
          op: 'FusedDepthwiseConv2dNative',
          input: ['c3', 'fdw_w', 'fdw_b'],
          attr: { T: T(), strides: ints(1, 1, 1, 1), padding: s('SAME'), dilations: ints(1, 1, 1, 1), data_format: s('NHWC'), fused_ops: strs('BiasAdd'), num_args: { i: '1' } },
        },
        { name: 'pool', op: 'MaxPool', input: ['x'], attr: { T: T(), ksize: ints(1, 3, 3, 1), strides: ints(1, 2, 2, 1), padding: s('SAME'), data_format: s('NHWC') } },
        { name: 'mean', op: 'Mean', input: ['pw', 'axes'], attr: { T: T(), keep_dims: { b: false } } },
        { name: 'sig', op: 'Sigmoid', input: ['fdw'], attr: { T: T() } },
        { name: 'cat', op: 'ConcatV2', input: ['pw', 'sig', 'cat_axis'], attr: { T: T(), N: { i: '2' } } },
      ],
      [
        { name: 'dw_w', shape: [3, 3, 3, 2], dtype: 'float32', values: random(54, 1) },
        { name: 'pw_w', shape: [1, 1, 6, 4], dtype: 'float32', values: random(24, 2, 2), float16: false },
        { name: 'pw_b', shape: [4], dtype: 'float32', values: [0.5, -0.25, 3, 1] },
        // float16 values exact in half precision, so both readers see the same numbers
        { name: 'c3_w', shape: [3, 3, 3, 5], dtype: 'float32', values: random(135, 3).map((v) => Math.round(v * 64) / 64), float16: true },
        { name: 'c3_b', shape: [5], dtype: 'float32', values: [0, 0.125, -0.5, 1, 0.25] },
        { name: 'fdw_w', shape: [3, 3, 5, 1], dtype: 'float32', values: random(45, 4) },
        { name: 'fdw_b', shape: [5], dtype: 'float32', values: [1, 2, 3, 4, 5] },
        { name: 'axes', shape: [2], dtype: 'int32', values: [1, 2] },
        { name: 'cat_axis', shape: [], dtype: 'int32', values: [-1] },
      ],
    );
    const x = { data: Float32Array.from(random(8 * 9 * 3, 9, 3)), shape: [1, 8, 9, 3] };
    const outs = await bothWays(file, { x }, ['dw', 'pw', 'c3', 'fdw', 'pool', 'mean', 'cat']);
    for (const out of outs) expectClose(out);
    expect(outs.find((o) => o.name === 'dw')!.ortShape).toEqual([1, 4, 5, 6]); // ceil(8/2), ceil(9/2), 3 channels × 2
  });

  it('bilinear resizes in all three coordinate modes, up and down', async () => {
    const modes: Array<[string, boolean, boolean]> = [
      ['plain', false, false],
      ['corners', true, false],
      ['half', false, true],
    ];
    const nodes = [placeholder('x', [1, 5, 6, 2])];
    for (const [name, align, half] of modes)
      for (const size of ['up', 'down'])
        nodes.push({ name: `${name}_${size}`, op: 'ResizeBilinear', input: ['x', `size_${size}`], attr: { T: T(), align_corners: { b: align }, half_pixel_centers: { b: half } } } as never);
    const file = writeModel('resize', nodes, [
      { name: 'size_up', shape: [2], dtype: 'int32', values: [11, 9] },
      { name: 'size_down', shape: [2], dtype: 'int32', values: [3, 4] },
    ]);
    const outs = await bothWays(file, { x: { data: Float32Array.from(random(60, 5, 10)), shape: [1, 5, 6, 2] } }, modes.flatMap(([n]) => [`${n}_up`, `${n}_down`]));
    for (const out of outs) expectClose(out, 1e-4);
  });

  it('integer floor division and modulo with negative operands, strided slices, top-k, gather and the rest of the decoding ops', async () => {
    const int = (name: string, op: string, a: string, b: string) => ({ name, op, input: [a, b], attr: { T: T('DT_INT32') } });
    const cast = (name: string, from: string) => ({ name, op: 'Cast', input: [from], attr: { SrcT: T('DT_INT32'), DstT: T('DT_FLOAT'), Truncate: { b: false } } });
    const file = writeModel(
      'ints',
      [
        placeholder('x', [1, 4, 6]),
        int('div', 'FloorDiv', 'a', 'b'),
        int('mod', 'FloorMod', 'a', 'b'),
        cast('div_f', 'div'),
        cast('mod_f', 'mod'),
        { name: 'slice', op: 'StridedSlice', input: ['x', 'begin', 'end', 'step'], attr: { T: T(), Index: T('DT_INT32'), begin_mask: { i: '1' }, end_mask: { i: '4' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' } } },
        { name: 'flat', op: 'Reshape', input: ['x', 'flat_shape'], attr: { T: T(), Tshape: T('DT_INT32') } },
        { name: 'topk', op: 'TopKV2', input: ['flat', 'k'], attr: { T: T(), sorted: { b: true } } },
        { name: 'picked', op: 'GatherV2', input: ['flat', 'topk:1', 'gather_axis'], attr: { Tparams: T(), Tindices: T('DT_INT32'), Taxis: T('DT_INT32'), batch_dims: { i: '0' } } },
        cast('idx_f', 'topk:1'),
        { name: 'wide', op: 'ExpandDims', input: ['picked', 'dim'], attr: { T: T(), Tdim: T('DT_INT32') } },
        { name: 'diff', op: 'Sub', input: ['wide', 'half'], attr: { T: T() } },
        { name: 'eq', op: 'Equal', input: ['x', 'x'], attr: { T: T() } },
        { name: 'eq_f', op: 'Cast', input: ['eq'], attr: { SrcT: T('DT_BOOL'), DstT: T('DT_FLOAT'), Truncate: { b: false } } },
        { name: 'sum', op: 'AddV2', input: ['eq_f', 'x'], attr: { T: T() } },
        { name: 'six', op: 'Relu6', input: ['sum'], attr: { T: T() } },
        { name: 'out', op: 'Identity', input: ['six'], attr: { T: T() } },
      ],
      [
        { name: 'a', shape: [8], dtype: 'int32', values: [-7, 7, -7, 7, -8, 9, 0, -1] },
        { name: 'b', shape: [8], dtype: 'int32', values: [2, 2, -2, -2, 3, -4, 5, 3] },
        { name: 'begin', shape: [3], dtype: 'int32', values: [0, 1, 1] },
        { name: 'end', shape: [3], dtype: 'int32', values: [1, 4, 0] },
        { name: 'step', shape: [3], dtype: 'int32', values: [1, 2, 2] },
        { name: 'flat_shape', shape: [2], dtype: 'int32', values: [1, -1] },
        { name: 'k', shape: [], dtype: 'int32', values: [5] },
        { name: 'gather_axis', shape: [], dtype: 'int32', values: [1] },
        { name: 'dim', shape: [], dtype: 'int32', values: [-1] },
        { name: 'half', shape: [], dtype: 'float32', values: [0.5] },
      ],
    );
    // distinct values, so top-k has no ties to order
    const x = Float32Array.from(random(24, 6, 8).map((v, k) => v + k * 1e-3));
    const outs = await bothWays(file, { x: { data: x, shape: [1, 4, 6] } }, ['div_f', 'mod_f', 'slice', 'topk', 'idx_f', 'diff', 'out']);
    for (const out of outs) expectClose(out, 1e-6);
    expect(Array.from(outs[0].ort)).toEqual([-4, 3, 3, -4, -3, -3, 0, -1]); // floor, not truncation
    expect(Array.from(outs[1].ort)).toEqual([1, 1, -1, -1, 1, -3, 0, 2]);
  });
});

describe('what it refuses, naming it', () => {
  it('an op it has no conversion for', () => {
    const file = writeModel('softmax', [placeholder('x', [1, 4]), { name: 'p', op: 'Softmax', input: ['x'], attr: { T: T() } }], []);
    expect(() => tfjsGraphToOnnx(file, ['p'])).toThrow(/node p: op Softmax has no ONNX conversion/);
  });

  it('explicit padding, another data format, a non-constant filter, an unknown fused activation, a dynamic input', () => {
    const conv = (attr: Record<string, Attr>, input = ['x', 'w']) => [
      placeholder('x', [1, 4, 4, 1]),
      { name: 'c', op: 'Conv2D', input, attr: { T: T(), strides: ints(1, 1, 1, 1), dilations: ints(1, 1, 1, 1), padding: s('SAME'), data_format: s('NHWC'), ...attr } },
    ];
    const w: W[] = [{ name: 'w', shape: [1, 1, 1, 1], dtype: 'float32', values: [1] }];
    expect(() => tfjsGraphToOnnx(writeModel('explicit', conv({ padding: s('EXPLICIT') }), w), ['c'])).toThrow(/node c \(Conv2D\): padding EXPLICIT/);
    expect(() => tfjsGraphToOnnx(writeModel('nchw', conv({ data_format: s('NCHW') }), w), ['c'])).toThrow(/data format NCHW/);
    expect(() => tfjsGraphToOnnx(writeModel('dynamic-w', conv({}, ['x', 'x']), w), ['c'])).toThrow(/input x must be a constant/);
    const fused = conv({ fused_ops: strs('BiasAdd', 'LeakyRelu') }, ['x', 'w', 'w']);
    fused[1] = { ...fused[1], op: '_FusedConv2D' };
    expect(() => tfjsGraphToOnnx(writeModel('leaky', fused, w), ['c'])).toThrow(/fused ops BiasAdd\+LeakyRelu/);
    expect(() => tfjsGraphToOnnx(writeModel('dyn', [placeholder('x', [-1, 4])], []), ['x'])).toThrow(/static shape/);
  });
});
