// The raw-body pool (services/shared/buffer-pool.ts): size classes, the cap, the idle drop, one
// return per loan; memory goes back only once released (answered) and written, never after a
// failed write; node:http2's end() callback, which grpc-channel.ts passes on, behaves as the pool
// relies on; and concurrent raw requests through the real gateway and resize service each get
// their own image's answer while bodies reuse memory. Real servers and processes on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool, MIN_CLASS_BYTES, release, sizeClass, trackSend } from '../../services/shared/buffer-pool.js';
import { CallError, GrpcChannel } from '../../services/gateway/grpc-channel.js';
import { encodeAs, openImage } from '../../services/shared/image-codec.js';
import { applyResize } from '../../services/resize/resize.js';
import type { ResizeParams } from '../../services/shared/operation-params.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { startService } from '../support/services.js';
import { makePhoto } from '../support/images.js';
import { type RunningGateway, eventually, metricValue, request, startGateway } from './support.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until the pool keeps `bytes` (the memory came back), failing after `withinMs`. */
async function retains(pool: BufferPool, bytes: number, withinMs = 5_000): Promise<void> {
  await eventually('pool retains the memory', async () => pool.retainedBytes, (v) => v === bytes, withinMs, 20);
}

describe('BufferPool', () => {
  it('hands out power-of-two size classes from 64 KiB, and the same memory again once released', () => {
    expect([1, 64 * KiB, 64 * KiB + 1, 3 * MiB, 4 * MiB].map(sizeClass)).toEqual([64 * KiB, 64 * KiB, 128 * KiB, 4 * MiB, 4 * MiB]);
    const pool = new BufferPool();
    const a = pool.acquire(1);
    const b = pool.acquire(64 * KiB + 1);
    expect([a.length, b.length, a.byteOffset]).toEqual([MIN_CLASS_BYTES, 128 * KiB, 0]);
    expect(pool.retainedBytes).toBe(0);
    release(a.subarray(100, 200)); // any view of it
    expect(pool.retainedBytes).toBe(64 * KiB);
    const again = pool.acquire(1000);
    expect(again.buffer).toBe(a.buffer);
    expect([pool.reuses, pool.retainedBytes]).toEqual([1, 0]);
    expect(pool.acquire(100 * KiB).buffer).not.toBe(b.buffer); // b is still out
  });

  it('does not pool a class over the cap, nor keep more than maxRetainedBytes in total', () => {
    const pool = new BufferPool({ maxRetainedBytes: 3 * MiB, maxClassBytes: 2 * MiB });
    const big = pool.acquire(2 * MiB + 1);
    expect(big.length).toBe(2 * MiB + 1); // exactly what was asked: a plain allocation
    release(big);
    expect(pool.retainedBytes).toBe(0);
    const [x, y, z] = [pool.acquire(2 * MiB), pool.acquire(MiB), pool.acquire(MiB)];
    release(x);
    release(y);
    release(z); // 2 + 1 + 1 MiB > 3 MiB: z is left to the GC
    expect(pool.retainedBytes).toBe(3 * MiB);
    expect(pool.acquire(MiB).buffer).toBe(y.buffer);
    expect(pool.acquire(MiB).buffer).not.toBe(z.buffer);
    // A class larger than everything the pool may keep is never pooled either.
    expect(new BufferPool({ maxRetainedBytes: MiB }).acquire(MiB + 1).length).toBe(MiB + 1);
  });

  it('drops the other classes it keeps when a class misses (the sizes changed), not on a hit', () => {
    const pool = new BufferPool();
    const [small, mid] = [pool.acquire(MiB), pool.acquire(4 * MiB)];
    release(small);
    release(mid);
    expect(pool.retainedBytes).toBe(5 * MiB);
    const again = pool.acquire(MiB); // a hit: the 4 MiB class stays
    expect(again.buffer).toBe(small.buffer);
    expect(pool.retainedBytes).toBe(4 * MiB);
    const big = pool.acquire(16 * MiB); // a miss: nothing idle is kept beside it
    expect(pool.retainedBytes).toBe(0);
    expect(pool.acquire(4 * MiB).buffer).not.toBe(mid.buffer);
    release(big);
    expect(pool.retainedBytes).toBe(16 * MiB);
  });

  it('drops what it keeps after idleMs without an acquire, and keeps it while acquires come', async () => {
    const pool = new BufferPool({ idleMs: 1_000 });
    const first = pool.acquire(1000);
    release(first);
    let last = first;
    for (let i = 0; i < 12; i++) {
      await sleep(100);
      last = pool.acquire(1000);
      release(last);
    }
    expect(pool.retainedBytes).toBe(64 * KiB); // 1.2 s in, but never 1 s without an acquire
    expect(last.buffer).toBe(first.buffer);
    const idleFrom = performance.now();
    await retains(pool, 0, 10_000);
    expect(performance.now() - idleFrom).toBeGreaterThanOrEqual(900);
    expect(pool.acquire(1000).buffer).not.toBe(first.buffer);
  });

  it('takes memory back once: a second release, or a late one after reuse, is ignored', () => {
    const pool = new BufferPool();
    const body = pool.acquire(1000).subarray(10, 1000);
    release(body);
    release(body);
    expect(pool.retainedBytes).toBe(64 * KiB);
    const next = pool.acquire(1000);
    expect(next.buffer).toBe(body.buffer);
    release(body); // stale: the memory is the next owner's now
    expect(pool.retainedBytes).toBe(0);
    release(next);
    expect(pool.retainedBytes).toBe(64 * KiB);
    const [p, q] = [pool.acquire(1000), pool.acquire(1000)];
    expect(p.buffer).not.toBe(q.buffer);
  });
});

describe('release and trackSend', () => {
  it('memory goes back once released and written, whichever comes last', () => {
    const pool = new BufferPool();
    const a = pool.acquire(1000);
    const sentA = trackSend(a.subarray(0, 500));
    release(a);
    expect(pool.retainedBytes).toBe(0); // the write may still read it
    sentA(true);
    expect(pool.retainedBytes).toBe(64 * KiB);

    const b = pool.acquire(1000);
    trackSend(b)(true);
    expect(pool.retainedBytes).toBe(0); // written, but its request is not answered yet
    release(b);
    expect(pool.retainedBytes).toBe(64 * KiB);
  });

  it('a retry is one more tracked write: the memory goes back only after both', () => {
    const pool = new BufferPool();
    const body = pool.acquire(1000);
    const first = trackSend(body);
    const retry = trackSend(body);
    release(body);
    first(true);
    first(true); // a callback that fires twice counts once
    expect(pool.retainedBytes).toBe(0);
    retry(true);
    expect(pool.retainedBytes).toBe(64 * KiB);
  });

  it('a failed write keeps the memory out of the pool for good', () => {
    const pool = new BufferPool();
    const body = pool.acquire(1000);
    const failed = trackSend(body);
    const ok = trackSend(body);
    failed(false);
    ok(true);
    release(body);
    expect(pool.retainedBytes).toBe(0);
    expect(pool.acquire(1000).buffer).not.toBe(body.buffer);
  });

  it('ignores memory that is not pooled', () => {
    const plain = Buffer.alloc(100);
    expect(() => {
      trackSend(plain)(true);
      trackSend(plain)(false);
      release(plain);
      release(undefined);
      release({ not: 'a buffer' });
    }).not.toThrow();
  });
});

// --- Real servers: plain node:http2 ones whose reading and answering the tests control, a
// grpc-js one, and one in a child process that is killed mid-upload.

const identity = (b: Buffer) => b;
const ECHO_SERVICE = {
  Echo: { path: '/t.T/Echo', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
} satisfies grpc.ServiceDefinition;
const GRPC_MAX_RECEIVE = 1 * MiB;

let grpcServer: grpc.Server;
let grpcPort: number;
const closers: Array<() => void> = [];
const channels: GrpcChannel[] = [];

beforeAll(async () => {
  grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': GRPC_MAX_RECEIVE });
  grpcServer.addService(ECHO_SERVICE, { Echo: ((call, callback) => callback(null, call.request)) as grpc.handleUnaryCall<Buffer, Buffer> });
  grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
});

afterEach(() => {
  for (const close of closers.splice(0)) close();
  for (const c of channels.splice(0)) c.close();
});

afterAll(() => grpcServer?.forceShutdown());

/**
 * A node:http2 server that pauses every request until `resume()`, then reads it whole and answers
 * it as a gRPC echo (status OK).
 */
async function startHeldServer(): Promise<{ port: number; seen: Promise<void>; resume(): void }> {
  const streams: http2.ServerHttp2Stream[] = [];
  let resumed = false;
  let sawOne: () => void;
  const seen = new Promise<void>((resolve) => (sawOne = resolve));
  const answer = (stream: http2.ServerHttp2Stream) => {
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat(parts));
    });
    stream.resume();
  };
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    sawOne();
    if (resumed) answer(stream);
    else {
      stream.pause();
      streams.push(stream);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const s of streams) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    resume: () => {
      resumed = true;
      for (const s of streams.splice(0)) answer(s);
    },
  };
}

/** A node:http2 server that answers every request with a gRPC error at once and resets the stream, reading nothing. */
async function startEarlyErrorServer(): Promise<number> {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status.FAILED_PRECONDITION) }, { endStream: true });
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

/** A node:http2 server in a child process that holds every request unread, until killed. */
async function startKillableServer(): Promise<{ port: number; child: ChildProcess }> {
  const script = "const s=require('node:http2').createServer();s.on('stream',(st)=>st.pause());s.listen(0,'127.0.0.1',()=>console.log(s.address().port));";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  closers.push(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (d) => resolve(Number(String(d).trim())));
  });
  return { port, child };
}

type EndOutcome = { readonly error: string | null } | 'pending';

/**
 * Writes a gRPC frame of `size` bytes on a new node:http2 stream as grpc-channel.ts does
 * (write(prefix), end(message, cb)) and reports what end()'s callback said so far.
 */
function upload(port: number, size: number): { stream: http2.ClientHttp2Stream; outcome: () => EndOutcome; settled: Promise<void> } {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  closers.push(() => session.destroy());
  const stream = session.request({ ':method': 'POST', ':path': '/t.T/Echo', 'content-type': 'application/grpc', te: 'trailers' }, { endStream: false });
  stream.on('error', () => {});
  stream.resume();
  let outcome: EndOutcome = 'pending';
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(size, 1);
  stream.write(prefix);
  const settled = new Promise<void>((resolve) =>
    stream.end(randomBytes(size), (err?: Error | null) => {
      outcome = { error: err ? ((err as { code?: string }).code ?? err.message) : null };
      resolve();
    }),
  );
  return { stream, outcome: () => outcome, settled };
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

describe("node:http2's end() callback, which grpc-channel.ts hands to trackSend", () => {
  it('comes without an error once the peer has taken every byte, and not before', async () => {
    const held = await startHeldServer();
    const u = upload(held.port, 4 * MiB); // far over the server's 64 KiB receive window
    await sleep(500);
    expect(u.outcome()).toBe('pending'); // the data cannot go out while the server does not read
    held.resume();
    await within(u.settled, 10_000, 'end() callback');
    expect(u.outcome()).toEqual({ error: null });
  });

  it('comes with an error when the server answers early and resets the stream (a raw http2 server, and grpc-js over its size limit)', async () => {
    for (const port of [await startEarlyErrorServer(), grpcPort]) {
      const u = upload(port, 4 * MiB);
      await within(u.settled, 10_000, `end() callback (port ${port})`);
      expect(u.outcome()).toEqual({ error: 'ERR_STREAM_DESTROYED' });
    }
  });

  it('comes with an error when the client cancels mid-upload with close(NGHTTP2_CANCEL), as a deadline does', async () => {
    const held = await startHeldServer();
    const u = upload(held.port, 4 * MiB);
    await sleep(200);
    u.stream.close(http2.constants.NGHTTP2_CANCEL);
    await within(u.settled, 10_000, 'end() callback');
    expect(u.outcome()).toEqual({ error: 'ERR_STREAM_DESTROYED' });
  });

  it('comes with an error when the server process is killed mid-upload', async () => {
    const { port, child } = await startKillableServer();
    const u = upload(port, 4 * MiB);
    await sleep(200);
    expect(u.outcome()).toBe('pending');
    child.kill('SIGKILL');
    await within(u.settled, 10_000, 'end() callback');
    expect(u.outcome()).toEqual({ error: 'ERR_STREAM_DESTROYED' });
  });
});

describe('GrpcChannel with pooled bodies', () => {
  const channel = (port: number) => {
    const c = new GrpcChannel({ target: `127.0.0.1:${port}`, maxSendBytes: 64 * MiB, maxReceiveBytes: 64 * MiB, windowBytes: 65_535, keepaliveMs: 0, maxBackoffMs: 1_000 });
    channels.push(c);
    return c;
  };
  const unary = (message: Uint8Array, deadlineMs = 10_000) => ({ path: '/t.T/Echo', message, metadata: {}, deadline: Date.now() + deadlineMs });
  /** A pooled body of `size` random bytes, as the gateway's reader hands them out. */
  const pooledBody = (pool: BufferPool, size: number) => {
    const body = pool.acquire(size).subarray(0, size);
    randomBytes(size).copy(body);
    return body;
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'OK',
      (err: unknown) => status[(err as CallError).code],
    );

  it('a body goes back once its call was written and it was released, and the next body reuses it', async () => {
    const pool = new BufferPool();
    const body = pooledBody(pool, 300 * KiB);
    const echoed = await channel(grpcPort).call(unary(body));
    expect(echoed.equals(body)).toBe(true);
    expect(pool.retainedBytes).toBe(0); // not released yet
    release(body);
    await retains(pool, 512 * KiB);
    expect(pool.acquire(300 * KiB).buffer).toBe(body.buffer);
  });

  it('a body released while its upload is held up by flow control goes back only after the write', async () => {
    const pool = new BufferPool();
    const held = await startHeldServer();
    const body = pooledBody(pool, 3 * MiB);
    const answered = channel(held.port).call(unary(body));
    await held.seen; // the upload has started (the channel tracks the write before it starts)
    release(body); // as if the HTTP answer had gone out already
    await sleep(500);
    expect(pool.retainedBytes).toBe(0);
    held.resume();
    expect((await answered).equals(body)).toBe(true);
    await retains(pool, 4 * MiB);
  });

  const failures: Array<[string, () => Promise<{ port: number; kill?: () => void }>, number, string]> = [
    ['grpc-js answers early over its size limit', async () => ({ port: grpcPort }), 10_000, 'RESOURCE_EXHAUSTED'],
    ['a server answers early and resets the stream', async () => ({ port: await startEarlyErrorServer() }), 10_000, 'FAILED_PRECONDITION'],
    ['the deadline aborts the upload', async () => ({ port: (await startHeldServer()).port }), 300, 'DEADLINE_EXCEEDED'],
    [
      'the server is killed mid-upload',
      async () => {
        const { port, child } = await startKillableServer();
        return { port, kill: () => child.kill('SIGKILL') };
      },
      10_000,
      'UNAVAILABLE',
    ],
  ];
  it.each(failures)('a failed write never gives the memory back: %s', async (_what, start, deadlineMs, code) => {
    const pool = new BufferPool();
    const { port, kill } = await start();
    const body = pooledBody(pool, 3 * MiB);
    const outcome = codeOf(channel(port).call(unary(body, deadlineMs)));
    if (kill) setTimeout(kill, 200);
    expect(await within(outcome, 15_000, 'the call')).toBe(code);
    release(body);
    await sleep(300); // time for end()'s callback, which says "failed"
    expect(pool.retainedBytes).toBe(0);
    expect(pool.acquire(3 * MiB).buffer).not.toBe(body.buffer);
  });
});

// --- The whole stack: the gateway process (its own pool) in front of a real resize service.

describe('the gateway with pooled raw bodies', () => {
  let s3: TestS3;
  let resize: ServiceProcess;
  let gw: RunningGateway;

  beforeAll(async () => {
    s3 = await startTestS3(['imageflow']);
    resize = await startService('resize', s3.env);
    // Chunked bodies count as MAX_BODY_BYTES towards MAX_INFLIGHT_REQUEST_BYTES (128 MiB): 8 MiB lets 8 in.
    gw = await startGateway({ ...s3.env, RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}`, MAX_BODY_BYTES: String(8 * MiB) });
    await eventually('gateway ready', () => request(gw.base, '/ready'), (a) => a.status === 200, 60_000, 300);
  }, 120_000);

  afterAll(async () => {
    await gw?.stop();
    await resize?.stop();
    await s3?.stop();
  });

  /** POSTs a raw image, with Content-Length or chunked (16 KiB writes). */
  function postImage(path: string, image: Buffer, chunked: boolean): Promise<{ status: number; headers: Record<string, unknown>; bytes: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { 'content-type': 'image/jpeg' };
      if (!chunked) headers['content-length'] = image.length;
      const req = httpRequest(`${gw.base}${path}`, { method: 'POST', headers }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      if (chunked) for (let at = 0; at < image.length; at += 16 * KiB) req.write(image.subarray(at, at + 16 * KiB));
      req.end(chunked ? undefined : image);
    });
  }

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  it('concurrent raw resizes of different images each get their own image back, byte for byte, from reused memory', async () => {
    const cases = await Promise.all(
      Array.from({ length: 24 }, async (_, i) => {
        const image = await makePhoto(400 + ((i * 97) % 900), 300 + ((i * 61) % 600), 'jpeg', 100 + i);
        const params: ResizeParams = { width: 120 + ((i * 37) % 300), fit: 'inside', withoutEnlargement: true };
        // What the resize service computes, in this process (the same functions, same sharp).
        const expected = await encodeAs(applyResize(openImage(image, { limitInputPixels: 50_000_000 }), params), 'jpeg', 0).toBuffer({ resolveWithObject: true });
        return { image, params, expected, chunked: i % 4 === 3 };
      }),
    );
    const metrics = async () => (await request(gw.base, '/metrics')).bytes.toString('utf8');
    const reusesBefore = metricValue(await metrics(), 'imageflow_gateway_body_pool_reuses_total') ?? 0;

    const results: Array<{ status: number; headers: Record<string, unknown>; bytes: Buffer }> = new Array(cases.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < cases.length; i = next++) {
        const c = cases[i];
        results[i] = await postImage(`/v1/resize?width=${c.params.width}&fit=inside&withoutEnlargement=true`, c.image, c.chunked);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    for (const [i, c] of cases.entries()) {
      const r = results[i];
      expect(r.status, `image ${i}: ${r.bytes.toString('utf8', 0, 200)}`).toBe(200);
      expect([r.headers['x-image-width'], r.headers['x-image-height']], `image ${i}`).toEqual([String(c.expected.info.width), String(c.expected.info.height)]);
      expect(sha(r.bytes), `image ${i}`).toBe(sha(c.expected.data));
    }
    const text = await metrics();
    expect(metricValue(text, 'imageflow_gateway_body_pool_reuses_total')! - reusesBefore).toBeGreaterThan(0);
    expect(metricValue(text, 'imageflow_gateway_body_pool_retained_bytes')).toBeGreaterThan(0);
    // And a decoded check that the first answer is the image it claims to be.
    const meta = await sharp(results[0].bytes).metadata();
    expect([meta.format, meta.width]).toEqual(['jpeg', cases[0].expected.info.width]);
  });
});
