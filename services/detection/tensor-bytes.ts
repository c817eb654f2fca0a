// KServe v2 raw tensor contents are little-endian, row-major bytes.
import { endianness } from 'node:os';

const HOST_IS_LE = endianness() === 'LE';

export function float32ToLE(values: Float32Array): Buffer {
  if (HOST_IS_LE) return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i], i * 4);
  return out;
}

export function float32FromLE(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new Error(`${bytes.byteLength} bytes is not a whole number of FP32 values`);
  const count = bytes.byteLength / 4;
  if (HOST_IS_LE) {
    // Copy: the source may be unaligned or shared with the rest of the message.
    const copy = new Uint8Array(bytes);
    return new Float32Array(copy.buffer, 0, count);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
