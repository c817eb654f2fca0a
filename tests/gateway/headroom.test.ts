// Bodies read with room in front (services/gateway/headroom.ts) and the request serializer that
// writes the other protobuf fields into that room (wire.ts): the bytes on the wire decode to the
// same message as the generated encoder's, the room is used once only, and the body reader keeps
// Fastify's limits and errors; with a pool (services/shared/buffer-pool.ts), reused memory exposes only the new
// body and buffers never handed out go back. Bodies arrive over a real loopback HTTP server.
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HEADROOM_BYTES, claimHeadroom, decodeBase64WithHeadroom, readBodyWithHeadroom } from '../../services/gateway/headroom.js';
import { BufferPool, release } from '../../services/shared/buffer-pool.js';
import { inlineImageSerializer } from '../../services/gateway/wire.js';
import { Fit, ResizeRequest } from '../../services/shared/gen/imageflow/v1/resize.js';
import { ImageFormat, OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';

const LIMIT = 1024 * 1024;
let server: Server;
let base: string;
/** What the reader made of the last request, or its error. */
let handled: Promise<{ body?: Buffer; error?: { code?: string; statusCode?: number } }>;
/** The pool the reader takes memory from (none: plain allocations). */
let pool: BufferPool | undefined;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    handled = readBodyWithHeadroom(req, LIMIT, pool).then(
      (body) => ({ body }),
      (error: { code?: string; statusCode?: number }) => ({ error }),
    );
    void handled.then(() => res.end('ok'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends `chunks` with a Content-Length (when given) or chunked, and waits for the reader's result. */
async function send(chunks: Buffer[], contentLength?: number) {
  const headers: Record<string, string | number> = { 'content-type': 'image/jpeg' };
  if (contentLength !== undefined) headers['content-length'] = contentLength;
  await new Promise<void>((resolve) => {
    const req = httpRequest(`${base}/`, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', () => resolve());
    for (const c of chunks) req.write(c);
    req.end();
  });
  return handled;
}

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

const message = (data: Buffer): ResizeRequest => ({
  source: { data },
  width: 512,
  height: 0,
  fit: Fit.FIT_COVER,
  withoutEnlargement: true,
  background: '#ffffff',
  output: { bucket: 'imageflow', key: 'out/some/long/key/name.webp', format: ImageFormat.IMAGE_FORMAT_WEBP, quality: 80, delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, reuseExisting: false },
});

describe('readBodyWithHeadroom', () => {
  it('reads a body with Content-Length into one buffer with free room in front', async () => {
    const data = bytes(300_000);
    const { body } = await send([data.subarray(0, 100_000), data.subarray(100_000)], data.length);
    expect(body!.equals(data)).toBe(true);
    expect(body!.byteOffset).toBe(HEADROOM_BYTES);
  });

  it('reads a chunked body (no Content-Length), growing past its first guess', async () => {
    const data = bytes(200_000, 7);
    const { body } = await send([data.subarray(0, 50_000), data.subarray(50_000, 150_000), data.subarray(150_000)]);
    expect(body!.equals(data)).toBe(true);
    expect(claimHeadroom(body!, 100)).toBeDefined();
  });

  it('refuses a declared length over the limit before reading, with Fastify\'s 413 error', async () => {
    const { error } = await send([bytes(16)], LIMIT + 1);
    expect(error).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
  });

  it('refuses a chunked body once it passes the limit', async () => {
    const { error } = await send([bytes(LIMIT / 2), bytes(LIMIT / 2), bytes(10)]);
    expect(error).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
  });
});

describe('readBodyWithHeadroom with a pool', () => {
  const KiB = 1024;
  afterEach(() => {
    pool = undefined;
  });

  it('reuses memory that held a longer body: only the new body is exposed, and its wire bytes are exactly the message', async () => {
    pool = new BufferPool();
    const first = bytes(400_000, 11);
    const { body: a } = await send([first], first.length);
    expect(a!.equals(first)).toBe(true);
    expect(a!.byteOffset).toBe(HEADROOM_BYTES);
    expect(a!.buffer.byteLength).toBe(512 * KiB); // the size class of headroom + body
    release(a);
    expect(pool.retainedBytes).toBe(512 * KiB);

    const second = bytes(300_000, 12);
    const { body: b } = await send([second], second.length);
    expect(b!.buffer).toBe(a!.buffer); // the same memory again...
    expect([b!.byteOffset, b!.length]).toEqual([HEADROOM_BYTES, second.length]);
    expect(b!.equals(second)).toBe(true); // ...holding only the new body...
    // ...with the first body's bytes still behind it, where nothing reads them.
    expect(Buffer.from(b!.buffer, HEADROOM_BYTES + 300_000, 100_000).equals(first.subarray(300_000))).toBe(true);
    const wire = inlineImageSerializer(ResizeRequest)(message(b!));
    expect(wire.buffer).toBe(b!.buffer); // sent from the headroom, no copy
    expect(wire.byteOffset + wire.length).toBe(HEADROOM_BYTES + second.length);
    const generated = ResizeRequest.encode(message(second)).finish();
    expect(wire.length).toBe(generated.length); // not one byte more than the message...
    expect(ResizeRequest.decode(wire)).toEqual(ResizeRequest.decode(generated)); // ...and the same message
  });

  it('grows a chunked body through pooled buffers and gives the outgrown ones back', async () => {
    pool = new BufferPool();
    const data = bytes(200_000, 13);
    const { body } = await send([data.subarray(0, 50_000), data.subarray(50_000, 150_000), data.subarray(150_000)]);
    expect(body!.equals(data)).toBe(true);
    expect(body!.byteOffset).toBe(HEADROOM_BYTES);
    expect(claimHeadroom(body!, 100)).toBeDefined();
    // Guessed 64 KiB (128 KiB class), grown to 256 KiB, then 512 KiB: each outgrown buffer went
    // back, and each growth (a miss) dropped the smaller one kept before it. The body's memory is not back.
    expect(pool.retainedBytes).toBe(256 * KiB);
    expect(pool.acquire(200 * KiB).length).toBe(256 * KiB);
    expect(pool.reuses).toBe(1);
    expect(pool.acquire(body!.buffer.byteLength).buffer).not.toBe(body!.buffer);
  });

  it('gives the memory of a refused body back at once', async () => {
    pool = new BufferPool();
    const { error } = await send([bytes(LIMIT / 2), bytes(LIMIT / 2), bytes(10)]);
    expect(error).toMatchObject({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 });
    // Every buffer it used is back (nobody released it: it was never handed out), the last one a 2 MiB class.
    expect(pool.retainedBytes).toBeGreaterThanOrEqual(2 * LIMIT);
    const again = await send([bytes(LIMIT / 2), bytes(LIMIT / 2), bytes(10)]);
    expect(again.error).toMatchObject({ statusCode: 413 });
    expect(pool.retainedBytes).toBeGreaterThanOrEqual(2 * LIMIT);
  });
});

describe('headroom', () => {
  it('is claimed once, only directly in front of a body it allocated', () => {
    const body = decodeBase64WithHeadroom(bytes(1000).toString('base64'));
    expect(body.equals(bytes(1000))).toBe(true);
    expect(claimHeadroom(Buffer.from(body), 10)).toBeUndefined(); // a copy: not ours
    expect(claimHeadroom(body.subarray(1), 10)).toBeUndefined(); // not at the start of the body
    expect(claimHeadroom(body, HEADROOM_BYTES + 1)).toBeUndefined(); // more than there is
    const room = claimHeadroom(body, 10)!;
    expect(room.length).toBe(10);
    expect(room.buffer).toBe(body.buffer);
    expect(room.byteOffset + room.length).toBe(body.byteOffset);
    expect(claimHeadroom(body, 10)).toBeUndefined(); // once only
  });
});

describe('inlineImageSerializer', () => {
  const serialize = inlineImageSerializer(ResizeRequest);

  it('writes into the headroom without copying the image, and decodes to the same message', () => {
    const data = decodeBase64WithHeadroom(bytes(200_000, 3).toString('base64'));
    const wire = serialize(message(data));
    expect(wire.buffer).toBe(data.buffer); // a view over the body: no copy of the image
    expect(ResizeRequest.decode(wire)).toEqual(ResizeRequest.decode(ResizeRequest.encode(message(bytes(200_000, 3))).finish()));
  });

  it('a second serialization of the same body (a retry) copies instead, and still decodes alike', () => {
    const data = decodeBase64WithHeadroom(bytes(100_000, 5).toString('base64'));
    const first = serialize(message(data));
    const retry = serialize({ ...message(data), width: 64 });
    expect(retry.buffer).not.toBe(data.buffer);
    expect(ResizeRequest.decode(first).width).toBe(512); // the first is not overwritten by the second
    expect(ResizeRequest.decode(retry).width).toBe(64);
    expect(Buffer.from(ResizeRequest.decode(retry).source!.data!).equals(bytes(100_000, 5))).toBe(true);
  });

  it('an image from anywhere else (a service answer in a pipeline) is concatenated as before', () => {
    const data = bytes(100_000, 9);
    const wire = serialize(message(data));
    expect(wire.buffer).not.toBe(data.buffer);
    expect(ResizeRequest.decode(wire)).toEqual(ResizeRequest.decode(ResizeRequest.encode(message(data)).finish()));
  });
});
