// GrpcChannel (services/gateway/grpc-channel.ts) against real servers on loopback: a grpc-js
// server with hand-made identity-serialized methods, grpc.health.v1 from grpc-health-check, and a
// plain node:http2 server that is not gRPC. Every case checks the exact status code and that the
// call settles within a bound; no server here is mocked.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import { type Socket, connect, createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { CallError, GrpcChannel, type ChannelOptions, type UnaryCall } from '../../services/gateway/grpc-channel.js';
import { freePort } from '../support/s3.js';

const MiB = 1024 * 1024;
const SLOW_MS = 5_000;
const TOO_LARGE_LIMIT = 1 * MiB;
/** Non-ASCII, a literal '%' and something that looks like (but is not) a percent-escape. */
const ERROR_DETAILS = 'résumé ✓ 100% done — 𝄞 %41 %zz naïve';

const identity = (b: Buffer) => b;
const method = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const TEST_SERVICE = {
  Echo: method('/t.T/Echo'),
  Fail: method('/t.T/Fail'),
  Slow: method('/t.T/Slow'),
  Big: method('/t.T/Big'),
  Meta: method('/t.T/Meta'),
} satisfies grpc.ServiceDefinition;

/** Request ids (the request bytes) of Slow calls the server saw cancelled. */
const cancelledOnServer = new Set<string>();

const implementation: grpc.UntypedServiceImplementation = {
  Echo: ((call, callback) => callback(null, call.request)) as grpc.handleUnaryCall<Buffer, Buffer>,
  Fail: ((_call, callback) => callback({ code: status.FAILED_PRECONDITION, details: ERROR_DETAILS })) as grpc.handleUnaryCall<Buffer, Buffer>,
  Slow: ((call, callback) => {
    const timer = setTimeout(() => callback(null, call.request), SLOW_MS);
    call.on('cancelled', () => {
      clearTimeout(timer);
      cancelledOnServer.add(call.request.toString('utf8'));
    });
  }) as grpc.handleUnaryCall<Buffer, Buffer>,
  Big: ((_call, callback) => callback(null, Buffer.alloc(TOO_LARGE_LIMIT + 64 * 1024, 7))) as grpc.handleUnaryCall<Buffer, Buffer>,
  Meta: ((call, callback) => callback(null, Buffer.from(String(call.metadata.get('x-request-id')[0] ?? ''), 'utf8'))) as grpc.handleUnaryCall<Buffer, Buffer>,
};

/** A grpc-js server with the test service and grpc.health.v1, on 127.0.0.1:port (0: any). */
async function startGrpcServer(port = 0): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * MiB, 'grpc.max_send_message_length': 16 * MiB });
  server.addService(TEST_SERVICE, implementation);
  new HealthImplementation({ '': 'SERVING', 't.T': 'NOT_SERVING' }).addToServer(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port: bound };
}

/** A port that was bound, then closed: nothing listens on it (until a test binds it again). */
const closedPort = freePort;

const channels: GrpcChannel[] = [];
function channel(port: number, extra: Partial<ChannelOptions> = {}): GrpcChannel {
  const c = new GrpcChannel({
    target: `127.0.0.1:${port}`,
    maxSendBytes: 8 * MiB,
    maxReceiveBytes: 8 * MiB,
    windowBytes: 65_535,
    keepaliveMs: 0,
    initialBackoffMs: 200,
    maxBackoffMs: 1_000,
    connectTimeoutMs: 2_000,
    ...extra,
  });
  channels.push(c);
  return c;
}

const call = (path: string, message: Uint8Array, extra: Partial<UnaryCall> = {}): UnaryCall => ({
  path,
  message,
  metadata: {},
  deadline: Date.now() + 5_000,
  ...extra,
});

interface Outcome {
  readonly value?: Buffer;
  readonly error?: CallError;
  readonly ms: number;
}

/** Waits for the call to settle, failing the test if it has not within `withinMs`. */
async function settle(promise: Promise<Buffer>, withinMs: number): Promise<Outcome> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => {
          if (!(error instanceof CallError)) throw error;
          return { error };
        },
      ),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the call did not settle within ${withinMs} ms`)), withinMs);
      }),
    ]);
    return { ...result, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

async function expectCode(promise: Promise<Buffer>, code: status, withinMs: number): Promise<Outcome> {
  const outcome = await settle(promise, withinMs);
  expect(outcome.value, 'the call succeeded').toBeUndefined();
  expect(status[outcome.error!.code]).toBe(status[code]);
  return outcome;
}

/** A TCP proxy to 127.0.0.1:target whose connections a test can drop, with a FIN or a RST. */
async function startProxy(target: number): Promise<{ port: number; drop(how: 'FIN' | 'RST'): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    for (const s of [client, upstream]) s.on('error', () => {});
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
  });
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  return {
    port,
    drop: (how) => {
      for (const s of sockets) if (how === 'FIN') s.destroy(); else s.resetAndDestroy();
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let main: { server: grpc.Server; port: number };

beforeAll(async () => {
  main = await startGrpcServer();
});

afterEach(() => {
  for (const c of channels.splice(0)) c.close();
});

afterAll(() => {
  main?.server.forceShutdown();
});

describe('GrpcChannel against a grpc-js server', () => {
  it.each([
    ['HTTP/2 default 64 KiB windows', 65_535],
    ['8 MiB windows', 8 * MiB],
  ])('echoes a 3 MB message byte for byte (%s)', async (_name, windowBytes) => {
    const c = channel(main.port, { windowBytes });
    const message = randomBytes(3 * 1000 * 1000);
    const { value } = await settle(c.call(call('/t.T/Echo', message)), 10_000);
    expect(value).toBeDefined();
    expect(value!.length).toBe(message.length);
    expect(value!.equals(message)).toBe(true);
  }, 15_000);

  it('runs concurrent calls on one connection with small windows', async () => {
    const c = channel(main.port);
    const messages = Array.from({ length: 16 }, () => randomBytes(256 * 1024));
    const results = await Promise.all(messages.map((m) => settle(c.call(call('/t.T/Echo', m)), 10_000)));
    results.forEach((r, i) => expect(r.value?.equals(messages[i])).toBe(true));
  }, 15_000);

  it('echoes an empty message', async () => {
    const c = channel(main.port);
    const { value } = await settle(c.call(call('/t.T/Echo', new Uint8Array(0))), 5_000);
    expect(value?.length).toBe(0);
  }, 15_000);

  it('reports an error status with its message decoded exactly', async () => {
    const c = channel(main.port);
    const { error } = await expectCode(c.call(call('/t.T/Fail', Buffer.from('x'))), status.FAILED_PRECONDITION, 5_000);
    expect(error!.details).toBe(ERROR_DETAILS);
    expect(error).toBeInstanceOf(CallError);
    expect(error!.metadata).toBeDefined(); // read as a grpc-js ServiceError by errors.ts
  }, 15_000);

  it('reports UNIMPLEMENTED for a method the server does not have', async () => {
    const c = channel(main.port);
    await expectCode(c.call(call('/t.T/Nope', Buffer.from('x'))), status.UNIMPLEMENTED, 5_000);
  }, 15_000);

  it('reports DEADLINE_EXCEEDED near the deadline when the server is slow', async () => {
    const c = channel(main.port);
    await settle(c.call(call('/t.T/Echo', Buffer.from('warm up'))), 5_000); // the connection is up
    const deadlineMs = 500;
    const { ms } = await expectCode(c.call(call('/t.T/Slow', Buffer.from('deadline'), { deadline: Date.now() + deadlineMs })), status.DEADLINE_EXCEEDED, deadlineMs + 1_000);
    expect(ms).toBeGreaterThanOrEqual(deadlineMs - 50);
    // The connection is still usable afterwards.
    expect((await settle(c.call(call('/t.T/Echo', Buffer.from('after'))), 5_000)).value?.toString()).toBe('after');
  }, 15_000);

  it('reports DEADLINE_EXCEEDED at once for a deadline already past', async () => {
    const c = channel(main.port);
    await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'), { deadline: Date.now() - 1 })), status.DEADLINE_EXCEEDED, 500);
  }, 15_000);

  it('reports CANCELLED when the signal aborts mid-call, and the server sees the cancellation', async () => {
    const c = channel(main.port);
    await settle(c.call(call('/t.T/Echo', Buffer.from('warm up'))), 5_000);
    const controller = new AbortController();
    const pending = c.call(call('/t.T/Slow', Buffer.from('abort-mid-call'), { signal: controller.signal }));
    setTimeout(() => controller.abort(), 200);
    await expectCode(pending, status.CANCELLED, 1_500);
    for (let i = 0; i < 50 && !cancelledOnServer.has('abort-mid-call'); i++) await sleep(20);
    expect(cancelledOnServer.has('abort-mid-call')).toBe(true);
  }, 15_000);

  it('reports CANCELLED when the signal aborts while the connection is being made', async () => {
    const c = channel(main.port); // not connected yet
    const controller = new AbortController();
    const pending = c.call(call('/t.T/Slow', Buffer.from('abort-while-connecting'), { signal: controller.signal }));
    controller.abort();
    await expectCode(pending, status.CANCELLED, 1_500);
  }, 15_000);

  it('reports CANCELLED at once for a signal aborted before the call', async () => {
    const c = channel(main.port);
    await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'), { signal: AbortSignal.abort() })), status.CANCELLED, 500);
  }, 15_000);

  it('reports RESOURCE_EXHAUSTED for a response larger than maxReceiveBytes', async () => {
    const c = channel(main.port, { maxReceiveBytes: TOO_LARGE_LIMIT });
    await expectCode(c.call(call('/t.T/Big', Buffer.from('x'))), status.RESOURCE_EXHAUSTED, 5_000);
    // A response at the limit still passes on the same channel.
    const atLimit = randomBytes(TOO_LARGE_LIMIT);
    expect((await settle(c.call(call('/t.T/Echo', atLimit)), 5_000)).value?.equals(atLimit)).toBe(true);
  }, 15_000);

  it('reports RESOURCE_EXHAUSTED for a request over maxSendBytes without connecting', async () => {
    const port = await closedPort(); // a connection attempt would be UNAVAILABLE
    const c = channel(port, { maxSendBytes: 1_000 });
    const { error } = await expectCode(c.call(call('/t.T/Echo', new Uint8Array(1_001))), status.RESOURCE_EXHAUSTED, 500);
    expect(error!.details).toMatch(/1001 bytes exceeds the limit of 1000/);
  }, 15_000);

  it('sends the metadata as request headers', async () => {
    const c = channel(main.port);
    const { value } = await settle(c.call(call('/t.T/Meta', Buffer.from('x'), { metadata: { 'x-request-id': 'req-7f3a.42' } })), 5_000);
    expect(value?.toString('utf8')).toBe('req-7f3a.42');
  }, 15_000);

  it('answers grpc.health.v1 Health/Check with SERVING (08 01) and NOT_FOUND for an unknown service', async () => {
    const c = channel(main.port);
    const whole = await settle(c.call(call('/grpc.health.v1.Health/Check', new Uint8Array(0))), 5_000);
    expect([...whole.value!]).toEqual([0x08, 0x01]);
    // HealthCheckRequest{service: "t.T"}: field 1, length-delimited.
    const named = await settle(c.call(call('/grpc.health.v1.Health/Check', Buffer.from([0x0a, 3, ...Buffer.from('t.T')]))), 5_000);
    expect([...named.value!]).toEqual([0x08, 0x02]); // NOT_SERVING
    const unknown = Buffer.from([0x0a, 4, ...Buffer.from('nope')]);
    await expectCode(c.call(call('/grpc.health.v1.Health/Check', unknown)), status.NOT_FOUND, 5_000);
  }, 15_000);

  it('fails every call with UNAVAILABLE once closed', async () => {
    const c = channel(main.port);
    await settle(c.call(call('/t.T/Echo', Buffer.from('x'))), 5_000);
    c.close();
    const { error } = await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'))), status.UNAVAILABLE, 500);
    expect(error!.details).toMatch(/closed/);
  }, 15_000);
});

describe('GrpcChannel when the server is not there', () => {
  let late: grpc.Server | undefined;
  afterAll(() => late?.forceShutdown());

  it('fails fast with UNAVAILABLE, backs off, and connects once a server listens on the port', async () => {
    const port = await closedPort();
    const backoffMs = 1_000;
    const c = channel(port, { initialBackoffMs: backoffMs, maxBackoffMs: 4_000 });

    const first = await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'))), status.UNAVAILABLE, 2_000);
    expect(first.error!.details).toMatch(/cannot connect/);
    const second = await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'))), status.UNAVAILABLE, 200);
    expect(second.error!.details).toMatch(/next attempt in \d+ ms/);

    late = (await startGrpcServer(port)).server;
    await sleep(backoffMs + 100);
    const { value } = await settle(c.call(call('/t.T/Echo', Buffer.from('back'))), 5_000);
    expect(value?.toString()).toBe('back');
  }, 15_000);
});

describe('GrpcChannel when the server stops and restarts', () => {
  let server: grpc.Server | undefined;
  afterAll(() => server?.forceShutdown());

  it('reports UNAVAILABLE after a forced shutdown and uses the restarted server on the same port', async () => {
    const started = await startGrpcServer();
    server = started.server;
    const c = channel(started.port, { initialBackoffMs: 200 });
    expect((await settle(c.call(call('/t.T/Echo', Buffer.from('one'))), 5_000)).value?.toString()).toBe('one');

    server.forceShutdown();
    await expectCode(c.call(call('/t.T/Echo', Buffer.from('two'))), status.UNAVAILABLE, 2_000);

    server = (await startGrpcServer(started.port)).server;
    await sleep(400); // past the back-off of the failed attempt
    expect((await settle(c.call(call('/t.T/Echo', Buffer.from('three'))), 5_000)).value?.toString()).toBe('three');
  }, 15_000);

  // grpc-js' client reports a call in flight on a connection that drops as UNAVAILABLE ("Connection
  // dropped"); Node closes such streams with CANCEL, which once came out as CANCELLED (no retry,
  // HTTP 500 from the gateway).
  it.each(['FIN', 'RST'] as const)('reports UNAVAILABLE (not CANCELLED) for a call in flight when the connection drops (%s)', async (how) => {
    const proxy = await startProxy(main.port);
    try {
      const c = channel(proxy.port);
      await settle(c.call(call('/t.T/Echo', Buffer.from('warm up'))), 5_000);
      const pending = c.call(call('/t.T/Slow', Buffer.from(`dropped-${how}`)));
      await sleep(200);
      proxy.drop(how);
      const { error } = await expectCode(pending, status.UNAVAILABLE, 2_000);
      expect(error!.details).toMatch(/closed before the call finished/);
      // The next call reconnects on the same channel.
      expect((await settle(c.call(call('/t.T/Echo', Buffer.from('again'))), 5_000)).value?.toString()).toBe('again');
    } finally {
      await proxy.close();
    }
  }, 15_000);

  it('reports UNAVAILABLE (not CANCELLED) for a call in flight when the server is shut down', async () => {
    const started = await startGrpcServer();
    server = started.server;
    const c = channel(started.port);
    await settle(c.call(call('/t.T/Echo', Buffer.from('warm up'))), 5_000);
    const pending = c.call(call('/t.T/Slow', Buffer.from('in-flight')));
    await sleep(200);
    server.forceShutdown();
    await expectCode(pending, status.UNAVAILABLE, 2_000);
  }, 15_000);
});

describe('GrpcChannel against an HTTP/2 server that is not gRPC', () => {
  let plain: http2.Http2Server;
  let port: number;
  beforeAll(async () => {
    plain = http2.createServer();
    plain.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const path = headers[':path'];
      if (path === '/rst/cancel') stream.close(http2.constants.NGHTTP2_CANCEL);
      else if (path === '/rst/refused') stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else {
        stream.respond({ ':status': 404, 'content-type': 'text/plain' });
        stream.end('not found');
      }
    });
    port = await new Promise<number>((resolve) => plain.listen(0, '127.0.0.1', () => resolve((plain.address() as { port: number }).port)));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => plain.close(() => resolve()));
  });

  it('maps HTTP 404 without grpc-status to UNIMPLEMENTED', async () => {
    const c = channel(port);
    const { error } = await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'))), status.UNIMPLEMENTED, 5_000);
    expect(error!.details).toMatch(/HTTP 404/);
  }, 15_000);

  it('maps a RST_STREAM on a live connection: CANCEL to CANCELLED, REFUSED_STREAM to UNAVAILABLE', async () => {
    const c = channel(port);
    await expectCode(c.call(call('/rst/cancel', Buffer.from('x'))), status.CANCELLED, 5_000);
    await expectCode(c.call(call('/rst/refused', Buffer.from('x'))), status.UNAVAILABLE, 5_000);
    await expectCode(c.call(call('/t.T/Echo', Buffer.from('x'))), status.UNIMPLEMENTED, 5_000); // same connection, still up
  }, 15_000);
});

describe('GrpcChannel with many megabytes of uploads waiting on flow control', () => {
  // Node counts a session's queued outbound bytes against its maxSessionMemory (10 MB by
  // default) and, past it, resets any stream whose answer headers arrive with
  // ENHANCE_YOUR_CALM: the gateway's byte budget bounds uploads, not this.
  let server: http2.Http2Server;
  let port: number;
  const sessions: http2.ServerHttp2Session[] = [];
  beforeAll(async () => {
    server = http2.createServer();
    server.on('session', (session) => sessions.push(session));
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      if (headers[':path'] === '/t.T/Hold') {
        stream.pause(); // never read: the upload stays queued at the client (64 KiB window)
        return;
      }
      // Answers at once, before reading the upload (a trailers-only status).
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status.FAILED_PRECONDITION), 'grpc-message': 'quick' }, { endStream: true });
    });
    port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
  });
  afterAll(async () => {
    // The held upload never ends on its own: drop its connection, or close() waits for it.
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("reads an answer while 12 MiB of other uploads wait, instead of resetting it", async () => {
    const c = channel(port);
    const hold = c.call(call('/t.T/Hold', Buffer.alloc(6 * MiB, 1), { deadline: Date.now() + 10_000 }));
    hold.catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    const { error } = await expectCode(c.call(call('/t.T/Quick', Buffer.alloc(6 * MiB, 2))), status.FAILED_PRECONDITION, 5_000);
    expect(error!.details).toBe('quick');
  }, 20_000);
});
