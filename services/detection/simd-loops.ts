// The SIMD loops of the fast kernels (wasm-kernels.ts): a small WebAssembly module, assembled
// here byte by byte (this project has no wasm toolchain), that imports the wasm backend's own
// memory so it reads and writes the tensors in place. Four functions: the spatial sum of Mean,
// Equal for float32 and int32, and TopK's scan for chunks worth a look. Instantiating it fails
// where wasm SIMD is missing; the kernels then keep tfjs's.
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The module's functions; addresses are byte offsets in the backend's memory. */
export interface SimdLoops {
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
export function simdLoops(backend: BackendWasm): SimdLoops | undefined {
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
