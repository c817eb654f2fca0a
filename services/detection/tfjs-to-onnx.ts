// Converts a tfjs graph model (model.json + weight shards, as tensorflowjs_converter writes them)
// into an ONNX model in memory, so onnxruntime's native CPU kernels can run the same network
// that tfjs runs on wasm. It covers the ops of the shipped CenterNet (a MobileNetV3 backbone,
// its head and the peak/top-k decoding inside the graph); any other op stops the conversion with
// its name, so a model it cannot run exactly is refused rather than approximated.
//
// tfjs graphs are NHWC; ONNX convolutions and pools are NCHW. Each spatial op is wrapped in a
// pair of transposes and everything else stays NHWC; onnxruntime's optimizer removes the pairs
// that meet between consecutive ops.
import { readGraphModelFiles } from './disk-model-io.js';
import { DataType, type AttributeValue, type DataTypeCode, type OnnxNode, type OnnxTensor, writeOnnxModel } from './onnx-writer.js';

interface TfAttr {
  readonly s?: string;
  readonly i?: string;
  readonly f?: number;
  readonly b?: boolean;
  readonly type?: string;
  readonly list?: { readonly i?: string[]; readonly s?: string[] };
  readonly shape?: { readonly dim?: ReadonlyArray<{ readonly size: string }> };
}

interface TfNode {
  readonly name: string;
  readonly op: string;
  readonly input?: readonly string[];
  readonly attr?: Readonly<Record<string, TfAttr>>;
}

interface WeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly quantization?: { readonly dtype: 'float16' | 'uint8' | 'uint16'; readonly scale?: number; readonly min?: number };
}

interface ModelJson {
  readonly modelTopology: { readonly node: readonly TfNode[] };
  readonly weightsManifest: ReadonlyArray<{ readonly paths: readonly string[]; readonly weights: readonly WeightSpec[] }>;
}

interface Weight {
  readonly dtype: WeightSpec['dtype'];
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** The ONNX opset written: Clip, Unsqueeze and Slice take their bounds as inputs from 13 on. */
const OPSET = 13;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];

const TF_TYPES: Record<string, DataTypeCode> = { DT_FLOAT: DataType.FLOAT, DT_INT32: DataType.INT32, DT_BOOL: DataType.BOOL };

/** Every float16 bit pattern as a float32, built once: dequantizing is then one lookup per weight. */
let halfTable: Float32Array | undefined;
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    halfTable[h] = exp === 0 ? sign * 2 ** -14 * (frac / 1024) : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return halfTable;
}

/** Every weight of the model, dequantized the way tfjs does on load. */
function readWeights(modelFile: string, json: ModelJson, buf: Buffer): Map<string, Weight> {
  const weights = new Map<string, Weight>();
  let at = 0;
  for (const spec of json.weightsManifest.flatMap((group) => group.weights)) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    let data: Weight['data'];
    const q = spec.quantization;
    if (q) {
      if (spec.dtype !== 'float32') throw new Error(`weight ${spec.name}: quantized ${spec.dtype} is not supported`);
      const f = new Float32Array(n);
      if (q.dtype === 'float16') {
        const table = halfToFloatTable();
        for (let k = 0; k < n; k++) f[k] = table[buf.readUInt16LE(at + 2 * k)];
        at += 2 * n;
      } else {
        const bytes = q.dtype === 'uint8' ? 1 : 2;
        for (let k = 0; k < n; k++) f[k] = (bytes === 1 ? buf[at + k] : buf.readUInt16LE(at + 2 * k)) * q.scale! + q.min!;
        at += bytes * n;
      }
      data = f;
    } else if (spec.dtype === 'bool') {
      data = new Uint8Array(buf.subarray(at, at + n));
      at += n;
    } else {
      // A copy, so the typed array starts 4-byte aligned.
      const copy = new Uint8Array(buf.subarray(at, at + 4 * n));
      data = spec.dtype === 'int32' ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
      at += 4 * n;
    }
    weights.set(spec.name, { dtype: spec.dtype, shape: spec.shape, data });
  }
  if (at !== buf.length) throw new Error(`weights of ${modelFile}: the manifest describes ${at} bytes, the shards hold ${buf.length}`);
  return weights;
}

const raw = (a: Float32Array | Int32Array | Uint8Array | BigInt64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const attrText = (a: TfAttr | undefined) => (a?.s === undefined ? undefined : Buffer.from(a.s, 'base64').toString('utf8'));
const attrInts = (a: TfAttr | undefined) => (a?.list?.i ?? []).map(Number);

/** An ONNX model (serialized ModelProto) computing `outputs` of the tfjs graph model in `modelFile`. */
export function tfjsGraphToOnnx(modelFile: string, outputs: readonly string[]): Uint8Array {
  const { json, weights: shards } = readGraphModelFiles<ModelJson>(modelFile);
  const weights = readWeights(modelFile, json, shards);
  const nodes: OnnxNode[] = [];
  const initializers = new Map<string, OnnxTensor>();
  const inputs: Array<{ name: string; dataType: DataTypeCode; dims: number[] }> = [];
  let fresh = 0;
  const tmp = (base: string) => `${base}__${fresh++}`;

  const weight = (ref: string, user: TfNode): Weight => {
    const w = weights.get(ref.replace(/:0$/, ''));
    if (!w) throw new Error(`node ${user.name} (${user.op}): input ${ref} must be a constant`);
    return w;
  };
  const ints = (ref: string, user: TfNode) => Array.from(weight(ref, user).data as Int32Array);
  const addInit = (t: OnnxTensor) => (initializers.has(t.name) || initializers.set(t.name, t), t.name);
  const int64s = (name: string, values: readonly (number | bigint)[]) =>
    addInit({ name, dataType: DataType.INT64, dims: [values.length], raw: raw(BigInt64Array.from(values.map((v) => BigInt(v)))) });
  const scalar = (name: string, value: number) => addInit({ name, dataType: DataType.FLOAT, dims: [], raw: raw(Float32Array.of(value)) });
  /** A tfjs tensor reference ("name", "name:1", "^control") as an ONNX value name; constants become initializers. */
  const ref = (r: string): string => {
    const name = r.replace(/:0$/, '');
    const w = weights.get(name);
    if (w) {
      const dataType = w.dtype === 'float32' ? DataType.FLOAT : w.dtype === 'int32' ? DataType.INT32 : DataType.BOOL;
      addInit({ name, dataType, dims: [...w.shape], raw: raw(w.data) });
    }
    return name;
  };
  const emit = (op: string, ins: string[], outs: string[], attributes?: Record<string, AttributeValue>) => nodes.push({ op, inputs: ins, outputs: outs, attributes });
  const nchw = (x: string, body: (t: string, out: string) => void, out: string) => {
    const t = tmp(`${out}/nchw`);
    const y = tmp(`${out}/nchw_out`);
    emit('Transpose', [x], [t], { perm: { ints: TO_NCHW } });
    body(t, y);
    emit('Transpose', [y], [out], { perm: { ints: TO_NHWC } });
  };
  const padding = (n: TfNode) => {
    const p = attrText(n.attr?.padding);
    if (p === 'SAME') return 'SAME_UPPER'; // TF's SAME puts the odd pixel at the end, as SAME_UPPER
    if (p === 'VALID') return 'VALID';
    throw new Error(`node ${n.name} (${n.op}): padding ${p} is not supported`);
  };
  const nhwcOnly = (n: TfNode) => {
    const f = attrText(n.attr?.data_format) ?? 'NHWC';
    if (f !== 'NHWC') throw new Error(`node ${n.name} (${n.op}): data format ${f} is not supported`);
  };
  const tfType = (n: TfNode, key = 'T') => {
    const t = n.attr?.[key]?.type;
    const code = t ? TF_TYPES[t] : undefined;
    if (!code) throw new Error(`node ${n.name} (${n.op}): type ${t ?? 'missing'} is not supported`);
    return code;
  };

  const conv = (n: TfNode, depthwise: boolean) => {
    nhwcOnly(n);
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^'));
    const fused = (n.attr?.fused_ops?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
    const extra = fused.filter((f) => f !== 'BiasAdd');
    if (extra.length > 1 || (extra[0] && !['Relu', 'Relu6'].includes(extra[0]))) throw new Error(`node ${n.name} (${n.op}): fused ops ${fused.join('+')} are not supported`);
    const filter = weight(ins[1], n);
    const [kh, kw, ci, co] = filter.shape;
    const src = filter.data as Float32Array;
    // HWIO → OIHW; a depthwise [kh, kw, C, M] filter → [C·M, 1, kh, kw] in `group = C` (TF's channel c·M + m).
    const outChannels = depthwise ? ci * co : co;
    const dst = new Float32Array(src.length);
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++) {
            const from = ((y * kw + x) * ci + i) * co + o;
            dst[depthwise ? ((i * co + o) * kh + y) * kw + x : ((o * ci + i) * kh + y) * kw + x] = src[from];
          }
    const w = addInit({ name: `${n.name}/weights_oihw`, dataType: DataType.FLOAT, dims: depthwise ? [outChannels, 1, kh, kw] : [co, ci, kh, kw], raw: raw(dst) });
    const convIns = [w];
    if (fused.includes('BiasAdd')) convIns.push(ref(ins[2]));
    const strides = attrInts(n.attr?.strides);
    const dilations = attrInts(n.attr?.dilations);
    nchw(
      ref(ins[0]),
      (t, y) => {
        const activation = extra[0];
        const c = activation ? tmp(`${n.name}/conv`) : y;
        emit('Conv', [t, ...convIns], [c], {
          kernel_shape: { ints: [kh, kw] },
          strides: { ints: strides.length ? strides.slice(1, 3) : [1, 1] },
          dilations: { ints: dilations.length ? dilations.slice(1, 3) : [1, 1] },
          auto_pad: { s: padding(n) },
          group: { i: depthwise ? ci : 1 },
        });
        if (activation === 'Relu') emit('Relu', [c], [y]);
        if (activation === 'Relu6') emit('Clip', [c, scalar('__zero', 0), scalar('__six', 6)], [y]);
      },
      n.name,
    );
  };

  for (const n of json.modelTopology.node) {
    const ins = (n.input ?? []).filter((i) => !i.startsWith('^'));
    const out = n.name;
    switch (n.op) {
      case 'Const':
        break; // weights; written where they are used
      case 'Placeholder': {
        const dims = (n.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        if (dims.some((d) => !(d > 0))) throw new Error(`input ${n.name} must have a static shape (has ${JSON.stringify(dims)})`);
        inputs.push({ name: out, dataType: tfType(n, 'dtype'), dims });
        break;
      }
      case 'Identity':
      case 'Relu':
      case 'Sigmoid':
        emit(n.op, [ref(ins[0])], [out]);
        break;
      case 'Relu6':
        emit('Clip', [ref(ins[0]), scalar('__zero', 0), scalar('__six', 6)], [out]);
        break;
      case 'Add':
      case 'AddV2':
      case 'Mul':
      case 'Sub':
      case 'Equal':
        emit(n.op === 'AddV2' ? 'Add' : n.op, [ref(ins[0]), ref(ins[1])], [out]);
        break;
      case 'Conv2D':
      case '_FusedConv2D':
        conv(n, false);
        break;
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        conv(n, true);
        break;
      case 'Mean':
        emit('ReduceMean', [ref(ins[0])], [out], { axes: { ints: ints(ins[1], n) }, keepdims: { i: n.attr?.keep_dims?.b ? 1 : 0 } });
        break;
      case 'MaxPool': {
        nhwcOnly(n);
        const k = attrInts(n.attr?.ksize);
        const s = attrInts(n.attr?.strides);
        nchw(ref(ins[0]), (t, y) => emit('MaxPool', [t], [y], { kernel_shape: { ints: k.slice(1, 3) }, strides: { ints: s.slice(1, 3) }, auto_pad: { s: padding(n) } }), out);
        break;
      }
      case 'ResizeBilinear': {
        const mode = n.attr?.align_corners?.b ? 'align_corners' : n.attr?.half_pixel_centers?.b ? 'half_pixel' : 'asymmetric';
        nchw(
          ref(ins[0]),
          (t, y) => {
            // sizes = [N, C] of the input ++ the requested [height, width]
            const shape = tmp(`${out}/shape`);
            const nc = tmp(`${out}/nc`);
            const hw = tmp(`${out}/hw`);
            const sizes = tmp(`${out}/sizes`);
            emit('Shape', [t], [shape]);
            emit('Slice', [shape, int64s('__i64_0', [0]), int64s('__i64_2', [2]), int64s('__i64_0', [0])], [nc]);
            emit('Cast', [ref(ins[1])], [hw], { to: { i: DataType.INT64 } });
            emit('Concat', [nc, hw], [sizes], { axis: { i: 0 } });
            emit('Resize', [t, '', '', sizes], [y], { mode: { s: 'linear' }, coordinate_transformation_mode: { s: mode } });
          },
          out,
        );
        break;
      }
      case 'ConcatV2':
        emit('Concat', ins.slice(0, -1).map(ref), [out], { axis: { i: ints(ins[ins.length - 1], n)[0] } });
        break;
      case 'Reshape':
        emit('Reshape', [ref(ins[0]), int64s(`${out}/shape_i64`, ints(ins[1], n))], [out]);
        break;
      case 'ExpandDims':
        emit('Unsqueeze', [ref(ins[0]), int64s(`${out}/axes_i64`, ints(ins[1], n))], [out]);
        break;
      case 'Cast':
        emit('Cast', [ref(ins[0])], [out], { to: { i: tfType(n, 'DstT') } });
        break;
      case 'TopKV2': {
        if (n.attr?.sorted?.b === false) throw new Error(`node ${n.name} (TopKV2): unsorted top-k is not supported`);
        const indices = tmp(`${out}/indices_i64`);
        emit('TopK', [ref(ins[0]), int64s(`${out}/k_i64`, ints(ins[1], n))], [out, indices], { axis: { i: -1 }, largest: { i: 1 }, sorted: { i: 1 } });
        emit('Cast', [indices], [`${out}:1`], { to: { i: DataType.INT32 } }); // tf's indices are int32
        break;
      }
      case 'FloorMod':
      case 'FloorDiv': {
        if (tfType(n) !== DataType.INT32) throw new Error(`node ${n.name} (${n.op}): only int32 operands are supported`);
        const [a, b] = [ref(ins[0]), ref(ins[1])];
        // ONNX Mod with fmod = 0 is the floor modulo; a − (a mod b) is a multiple of b, so the
        // truncating integer Div of it is the floor quotient for any signs.
        const mod = n.op === 'FloorMod' ? out : tmp(`${out}/mod`);
        emit('Mod', [a, b], [mod], { fmod: { i: 0 } });
        if (n.op === 'FloorDiv') {
          const diff = tmp(`${out}/diff`);
          emit('Sub', [a, mod], [diff]);
          emit('Div', [diff, b], [out]);
        }
        break;
      }
      case 'GatherV2': {
        if (Number(n.attr?.batch_dims?.i ?? 0) !== 0) throw new Error(`node ${n.name} (GatherV2): batch_dims is not supported`);
        emit('Gather', [ref(ins[0]), ref(ins[1])], [out], { axis: { i: ints(ins[2], n)[0] } });
        break;
      }
      case 'StridedSlice': {
        for (const m of ['ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'])
          if (Number(n.attr?.[m]?.i ?? 0) !== 0) throw new Error(`node ${n.name} (StridedSlice): ${m} is not supported`);
        const [begin, end, steps] = [ints(ins[1], n), ints(ins[2], n), ints(ins[3], n)];
        const beginMask = Number(n.attr?.begin_mask?.i ?? 0);
        const endMask = Number(n.attr?.end_mask?.i ?? 0);
        const starts = begin.map((b, k) => (beginMask & (1 << k) ? (steps[k] > 0 ? 0n : INT64_MAX) : BigInt(b)));
        const ends = end.map((e, k) => (endMask & (1 << k) ? (steps[k] > 0 ? INT64_MAX : INT64_MIN) : BigInt(e)));
        emit('Slice', [ref(ins[0]), int64s(`${out}/starts`, starts), int64s(`${out}/ends`, ends), int64s(`${out}/axes`, begin.map((_, k) => k)), int64s(`${out}/steps`, steps)], [out]);
        break;
      }
      default:
        throw new Error(`node ${n.name}: op ${n.op} has no ONNX conversion (tfjs-to-onnx.ts)`);
    }
  }
  return writeOnnxModel(
    { name: modelFile, nodes, initializers: [...initializers.values()], inputs, outputs: outputs.map((name) => ({ name, dataType: DataType.FLOAT })) },
    OPSET,
    'imageflow tfjs-to-onnx',
  );
}
