// Request serializers that copy an inline image once. The generated ones (ts-proto over
// @bufbuild/protobuf's BinaryWriter) copy the bytes twice before they are sent: into the nested
// ImageSource when it is joined, and into the whole message on finish() (a third copy, in
// Buffer.from(), is gone: scripts/gen-proto.ts makes it a view). For a 12 MB photo those copies
// cost more gateway CPU than everything else, and their garbage drives old-space collections.
// Protobuf lets fields come in any order, so the `source` field (1) carrying ImageSource.data
// (2) is written by hand in front of the rest of the message, encoded without it: one
// concatenation, byte-for-byte the same fields — or none at all when the image came in a body
// with headroom (headroom.ts).
import type { ImageSource } from '../shared/gen/imageflow/v1/common.js';
import { claimHeadroom } from './headroom.js';

/** Below this the generated path is as fast and there is nothing to save. */
const MIN_INLINE_BYTES = 64 * 1024;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

type Encoder<T> = { encode(message: T): { finish(): Uint8Array } };

export function inlineImageSerializer<T extends { source?: ImageSource | undefined }>(codec: Encoder<T>): (value: T) => Buffer {
  return (value) => {
    const data = value.source?.data;
    if (!data || data.length < MIN_INLINE_BYTES) {
      const bytes = codec.encode(value).finish();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    const rest = codec.encode({ ...value, source: undefined }).finish();
    // field 1 (source), wire type 2 → 0x0a; inside it field 2 (data), wire type 2 → 0x12
    const inner = [0x12, ...varint(data.length)];
    const header = [0x0a, ...varint(inner.length + data.length), ...inner];
    // The rest of the message first, then the image: written into the body's headroom, no copy.
    const room = claimHeadroom(data, rest.length + header.length);
    if (room) {
      room.set(rest, 0);
      room.set(header, rest.length);
      return Buffer.from(room.buffer, room.byteOffset, room.length + data.length);
    }
    const head = Buffer.from(header);
    return Buffer.concat([head, data, rest], head.length + data.length + rest.length);
  };
}

/** The service definition with its request serializers replaced (methods whose request has a source). */
export function withInlineImageSerializers<D extends Record<string, { requestSerialize: (value: never) => Buffer }>>(definition: D, codecs: Partial<Record<keyof D, Encoder<never>>>): D {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    const codec = codecs[name as keyof D];
    out[name] = codec ? { ...method, requestSerialize: inlineImageSerializer(codec as Encoder<{ source?: ImageSource }>) } : method;
  }
  return out as D;
}
