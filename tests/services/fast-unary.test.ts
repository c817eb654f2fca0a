// The services' own unary path (services/shared/grpc-fast-unary.ts) against real service
// processes: the wire protocol spoken byte by byte over node:http2, the same answers as grpc-js'
// path, and what still goes to grpc-js (compressed requests, health, other methods).
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { Fit, ResizeRequest, ResizeResponse, ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import { sizeClass } from '../../services/shared/buffer-pool.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { call, resizeClient, startService } from '../support/services.js';

const PATH = '/imageflow.v1.ResizeService/Resize';
const inlineOut = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false };
const request = (data: Buffer, width = 64): ResizeRequest => ({ source: { data }, width, fit: Fit.FIT_INSIDE, withoutEnlargement: true, output: inlineOut, background: '' });

function frame(message: Uint8Array, compressed = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressed;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

interface RawAnswer {
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One call written by hand: the headers given, then `body` (or nothing), then the end of the stream. */
function rawCall(session: http2.ClientHttp2Session, body: Buffer | undefined, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let answer: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (answer = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => resolve({ headers: answer, trailers, body: Buffer.concat(chunks) }));
    stream.end(body);
  });
}

/** grpc-status and grpc-message, from the trailers or a trailers-only answer. */
const statusOf = (a: RawAnswer) => ({
  code: Number(a.trailers['grpc-status'] ?? a.headers['grpc-status']),
  message: decodeURIComponent(String(a.trailers['grpc-message'] ?? a.headers['grpc-message'] ?? '')),
});

async function poolReuses(): Promise<number> {
  const text = await (await fetch(fastMetrics)).text();
  const line = text.split('\n').find((l) => l.startsWith('imageflow_message_pool_reuses_total'));
  return Number(line?.split(' ').at(-1));
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let fast: ServiceProcess;
let viaGrpcJs: ServiceProcess;
let fastMetrics: string;
let session: http2.ClientHttp2Session;
let photo: Buffer;

beforeAll(async () => {
  [fast, viaGrpcJs, photo] = await Promise.all([
    startService('resize', { GRPC_MAX_MESSAGE_BYTES: String(4 * 1024 * 1024), METRICS_PORT: '0' }),
    startService('resize', { GRPC_FAST_UNARY: 'false' }),
    makePhoto(320, 240),
  ]);
  fastMetrics = `http://127.0.0.1:${fast.metricsPort}/metrics`;
  session = http2.connect(`http://127.0.0.1:${fast.port}`);
});

afterAll(async () => {
  session?.close();
  await Promise.all([fast?.stop(), viaGrpcJs?.stop()]);
});

describe('a call on the fast path', () => {
  it('answers what grpc-js answers, byte for byte, with its own response headers', async () => {
    const raw = await rawCall(session, frame(ResizeRequest.encode(request(photo)).finish()));
    expect(statusOf(raw)).toEqual({ code: 0, message: '' });
    // grpc-js would advertise 'identity,deflate,gzip': this answer came from the fast path.
    expect(raw.headers['grpc-accept-encoding']).toBe('identity');
    expect(raw.body.readUInt32BE(1)).toBe(raw.body.length - 5);
    const mine = ResizeResponse.decode(raw.body.subarray(5));

    const client = resizeClient(viaGrpcJs.port);
    try {
      const theirs = await call(client, client.resize, request(photo));
      expect(sha(mine.output!.data)).toBe(sha(theirs.output!.data));
      expect([mine.output!.width, mine.output!.height]).toEqual([64, 48]);
    } finally {
      client.close();
    }
  });

  it('keeps each of many concurrent calls on its own image (message memory is reused between calls)', async () => {
    const client = resizeClient(fast.port);
    try {
      // Different sizes and contents, so any mix-up shows, all in one size class (128-256 KiB): a
      // miss in one class drops the others (buffer-pool.ts), which would make the reuse count
      // below depend on how the calls interleave. In one class every acquire but those past the
      // peak number in flight is a reuse: at least 48 of the 72.
      const inputs = await Promise.all(Array.from({ length: 24 }, (_, i) => makePhoto(760 + 12 * i, 570 + 6 * i, 'jpeg', i + 1)));
      expect(new Set(inputs.map((img) => sizeClass(img.length)))).toEqual(new Set([256 * 1024]));
      const reusesBefore = await poolReuses();
      // What grpc-js' path answers for each, one call at a time.
      const reference = resizeClient(viaGrpcJs.port);
      const expected: string[] = [];
      try {
        for (const img of inputs) expected.push(sha((await call(reference, reference.resize, request(img))).output!.data));
      } finally {
        reference.close();
      }
      expect(new Set(expected).size).toBe(inputs.length);
      for (let round = 0; round < 3; round++) {
        // Staggered, so each message has arrived before the next starts while earlier calls still
        // wait for the limiter: memory given back too early would be refilled under them.
        const pending = [];
        for (const img of inputs) {
          pending.push(call(client, client.resize, request(img)));
          await new Promise((r) => setTimeout(r, 4));
        }
        const answers = await Promise.all(pending);
        answers.forEach((res, i) => expect(sha(res.output!.data), `round ${round}, image ${i}`).toBe(expected[i]));
      }
      // Calls ran in memory earlier calls had used.
      expect((await poolReuses()) - reusesBefore).toBeGreaterThanOrEqual(2 * inputs.length);
    } finally {
      client.close();
    }
  });

  it('reports a handler error as a trailers-only status', async () => {
    const raw = await rawCall(session, frame(ResizeRequest.encode({ ...request(photo), width: 0 }).finish()));
    expect(statusOf(raw).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(statusOf(raw).message).toMatch(/^width must be/);
    expect(raw.body.length).toBe(0);
  });
});

describe('the wire protocol, on a bad call', () => {
  it('refuses a message over GRPC_MAX_MESSAGE_BYTES before reading it, and the connection serves the next call', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 7);
    const raw = await rawCall(session, frame(big));
    expect(statusOf(raw).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(statusOf(raw).message).toMatch(/larger than max \(5242880 vs\. 4194304\)/);
    const next = await rawCall(session, frame(ResizeRequest.encode(request(photo)).finish()));
    expect(statusOf(next).code).toBe(0);
  });

  it('gives DEADLINE_EXCEEDED when the grpc-timeout passes, and INTERNAL for a timeout it cannot read', async () => {
    // A 1 ns deadline is over before the message is decoded.
    const late = await rawCall(session, frame(ResizeRequest.encode(request(photo)).finish()), { 'grpc-timeout': '1n' });
    expect(statusOf(late)).toEqual({ code: grpc.status.DEADLINE_EXCEEDED, message: 'Deadline exceeded' });
    const bad = await rawCall(session, frame(ResizeRequest.encode(request(photo)).finish()), { 'grpc-timeout': 'soon' });
    expect(statusOf(bad)).toEqual({ code: grpc.status.INTERNAL, message: 'Invalid grpc-timeout value "soon"' });
  });

  it('refuses a compressed message without grpc-encoding, no message, two messages and an undecodable one', async () => {
    const msg = ResizeRequest.encode(request(photo)).finish();
    expect(statusOf(await rawCall(session, frame(msg, 1))).code).toBe(grpc.status.INTERNAL);
    expect(statusOf(await rawCall(session, undefined)).code).toBe(grpc.status.UNIMPLEMENTED);
    expect(statusOf(await rawCall(session, Buffer.concat([frame(msg), frame(msg)]))).code).toBe(grpc.status.UNIMPLEMENTED);
    const garbage = await rawCall(session, frame(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f])));
    expect(statusOf(garbage).code).toBe(grpc.status.INTERNAL);
    expect(statusOf(garbage).message).toMatch(/^Error deserializing request/);
  });

  it('lets a cancelled call go and serves the next one', async () => {
    const msg = frame(ResizeRequest.encode(request(await makePhoto(2400, 1800))).finish());
    const stream = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => {});
    stream.write(msg.subarray(0, 1000));
    await new Promise((r) => setTimeout(r, 20));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const next = await rawCall(session, frame(ResizeRequest.encode(request(photo)).finish()));
    expect(statusOf(next).code).toBe(0);
  });
});

describe('what grpc-js still serves', () => {
  it('a gzip-compressed request (grpc-encoding: gzip) is answered by grpc-js', async () => {
    const client = new ResizeServiceClient(`127.0.0.1:${fast.port}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const res = await call(client, client.resize, request(photo));
      expect([res.output!.width, res.output!.height]).toEqual([64, 48]);
    } finally {
      client.close();
    }
  });

  it('health checks and an unknown method, on the same port', async () => {
    const check = await new Promise<RawAnswer>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/grpc.health.v1.Health/Check', 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('close', () => resolve({ headers, trailers, body: Buffer.concat(chunks) }));
      stream.end(frame(Buffer.alloc(0)));
    });
    expect(statusOf(check).code).toBe(0);
    expect(check.headers['grpc-accept-encoding']).toBe('identity,deflate,gzip');
    // HealthCheckResponse { status: SERVING (1) }
    expect([...check.body.subarray(5)]).toEqual([0x08, 0x01]);

    const unknown = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': '/imageflow.v1.ResizeService/Nope', 'content-type': 'application/grpc', te: 'trailers' });
      stream.on('response', resolve);
      stream.on('error', reject);
      stream.end(frame(Buffer.alloc(0)));
    });
    expect(Number(unknown['grpc-status'])).toBe(grpc.status.UNIMPLEMENTED);
  });
});
