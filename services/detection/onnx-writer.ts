// Writes the few ONNX messages a converted model needs (onnx/onnx.proto, proto2: ModelProto,
// GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), as protobuf bytes that
// onnxruntime loads. Field numbers are onnx.proto's; nothing here reads ONNX.

const utf8 = new TextEncoder();

class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }

  /** Varint of an int64: a negative value is its 64-bit two's complement (ten bytes). */
  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const out: number[] = [];
    while (v >= 0x80n) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.push(Uint8Array.from(out));
  }

  int(field: number, value: number | bigint): this {
    this.varint(field << 3);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** A nested message: its parts are taken over, so the model's weights are copied once, by finish(). */
  message(field: number, value: ProtoWriter): this {
    this.varint((field << 3) | 2);
    this.varint(value.length);
    for (const p of value.parts) this.push(p);
    return this;
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export interface OnnxTensor {
  readonly name: string;
  readonly dataType: DataTypeCode;
  readonly dims: readonly number[];
  /** Little-endian element bytes (raw_data). */
  readonly raw: Uint8Array;
}

export type AttributeValue =
  | { readonly f: number }
  | { readonly i: number | bigint }
  | { readonly s: string }
  | { readonly ints: readonly (number | bigint)[] }
  | { readonly t: OnnxTensor };

export interface OnnxNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly name?: string;
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface OnnxValueInfo {
  readonly name: string;
  readonly dataType: DataTypeCode;
  /** Omitted: rank and sizes left to the runtime's shape inference. */
  readonly dims?: readonly number[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

function tensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  return w.int(2, t.dataType).string(8, t.name).bytes(9, t.raw);
}

function attribute(name: string, value: AttributeValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  // AttributeProto.type: FLOAT 1, INT 2, STRING 3, TENSOR 4, INTS 7.
  if ('f' in value) return w.int(20, 1).float(2, value.f);
  if ('i' in value) return w.int(20, 2).int(3, value.i);
  if ('s' in value) return w.int(20, 3).string(4, value.s);
  if ('t' in value) return w.int(20, 4).message(5, tensor(value.t));
  w.int(20, 7);
  for (const v of value.ints) w.int(8, v);
  return w;
}

function node(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.op);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.message(5, attribute(k, v));
  return w;
}

function valueInfo(v: OnnxValueInfo): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, v.dataType);
  if (v.dims) {
    const shape = new ProtoWriter();
    for (const d of v.dims) shape.message(1, new ProtoWriter().int(1, d));
    tensorType.message(2, shape);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

/** A serialized ModelProto of one graph in the default ONNX domain at `opset`. */
export function writeOnnxModel(graph: OnnxGraph, opset: number, producer: string): Uint8Array {
  const g = new ProtoWriter();
  for (const n of graph.nodes) g.message(1, node(n));
  g.string(2, graph.name);
  for (const t of graph.initializers) g.message(5, tensor(t));
  for (const i of graph.inputs) g.message(11, valueInfo(i));
  for (const o of graph.outputs) g.message(12, valueInfo(o));
  return new ProtoWriter()
    .int(1, 8) // IR version 8 (ONNX 1.13+), enough for opset 13
    .string(2, producer)
    .message(7, g)
    .message(8, new ProtoWriter().string(1, '').int(2, opset))
    .finish();
}
