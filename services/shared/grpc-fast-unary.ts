// Unary calls of the image services served straight from grpc-js' own HTTP/2 streams. grpc-js'
// server path (interceptors, a read queue, status objects) gathers a request's frames and joins
// them into a fresh buffer per message; at 12 MP those buffers drove V8's full collections in
// the service. Here a message is filled in place, in pooled memory (buffer-pool.ts), and handed
// to the same unary() core. This path speaks the wire protocol for the calls it takes: one
// uncompressed message in, one message or a status out, the grpc-timeout deadline, cancellation
// by reset. Everything else (health, reflection, a compressed request, an unknown method) goes
// on to grpc-js unchanged, on the same port and connections, so keepalive, TLS, limits and
// shutdown stay grpc-js'.
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { status } from '@grpc/grpc-js';
import { MIN_CLASS_BYTES, release, type BufferPool } from './buffer-pool.js';
import type { Logger } from './logger.js';

/** What a call's handler gets from the transport. */
export interface UnaryCallHead {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Epoch milliseconds, Infinity when the caller set no deadline. */
  readonly deadline: number;
}

/** The outcome of a call: a response, or a status with its details. */
export type UnaryOutcome<Res> = { readonly ok: true; readonly value: Res } | { readonly ok: false; readonly code: status; readonly details: string };

export interface FastUnaryMethod {
  readonly decode: (bytes: Buffer) => unknown;
  readonly encode: (value: unknown) => Buffer;
  readonly run: (request: unknown, head: UnaryCallHead) => Promise<UnaryOutcome<unknown>>;
}

export interface FastUnaryOptions {
  readonly maxReceiveBytes: number;
  readonly maxSendBytes: number;
  readonly logger: Logger;
  /** Memory for large request messages, given back when the call's handler is done with it. */
  readonly pool?: BufferPool;
}

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => void;

/**
 * Puts the fast path in front of grpc-js' stream handler on each of its HTTP/2 servers (reached
 * through grpc-js' private map, as the receive windows are; without them grpc-js serves every call).
 */
export function installFastUnary(http2Servers: Iterable<Http2Server>, methods: ReadonlyMap<string, FastUnaryMethod>, options: FastUnaryOptions): void {
  for (const server of http2Servers) {
    const grpcJs = server.listeners('stream') as StreamListener[];
    if (grpcJs.length === 0) continue;
    server.removeAllListeners('stream');
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
      const method = methods.get(headers[':path'] ?? '');
      if (method && takes(headers)) serveUnary(stream, headers, method, options);
      else for (const listener of grpcJs) listener.call(server, stream, headers, ...rest);
    });
  }
}

/** A POST of gRPC (protobuf) without compression; anything else is grpc-js' to answer. */
function takes(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  const encoding = headers['grpc-encoding'];
  return (
    headers[':method'] === 'POST' &&
    (type === 'application/grpc' || type === 'application/grpc+proto') &&
    (encoding === undefined || encoding === 'identity')
  );
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };
const RESPONSE_HEADERS = { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity', 'grpc-encoding': 'identity' };

function serveUnary(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, method: FastUnaryMethod, options: FastUnaryOptions): void {
  // Errors surface as 'close' (a reset, a lost connection); without a listener they would throw.
  stream.on('error', () => {});
  let finished = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (outcome: UnaryOutcome<unknown>) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    if (stream.destroyed || stream.closed) return; // the caller cancelled or went away
    if (outcome.ok) {
      let body: Buffer;
      try {
        body = method.encode(outcome.value);
      } catch (err) {
        return sendStatus(stream, status.INTERNAL, `cannot serialize the response: ${(err as Error).message}`);
      }
      if (body.length > options.maxSendBytes) {
        return sendStatus(stream, status.RESOURCE_EXHAUSTED, `Sent message larger than max (${body.length} vs. ${options.maxSendBytes})`);
      }
      sendMessage(stream, body);
    } else {
      sendStatus(stream, outcome.code, outcome.details);
    }
  };

  // The 5-byte prefix (compressed flag, length), then exactly one message of that length.
  const prefix = Buffer.alloc(5);
  let prefixRead = 0;
  let message: Buffer | undefined;
  let messageRead = 0;
  // The message's memory is the call's until its handler is done (or it never runs).
  let handlerRunning = false;
  const giveBack = () => {
    if (message && !handlerRunning) release(message);
  };
  const fail = (code: status, details: string) => {
    finish({ ok: false, code, details });
    giveBack();
    stream.removeListener('data', onData);
    stream.resume(); // discard the rest of what the caller still sends
  };
  const onData = (chunk: Buffer) => {
    let at = 0;
    while (at < chunk.length) {
      if (message && messageRead === message.length) return fail(status.UNIMPLEMENTED, 'Received a second request message for server unary call');
      if (prefixRead < 5) {
        const n = Math.min(5 - prefixRead, chunk.length - at);
        chunk.copy(prefix, prefixRead, at, at + n);
        prefixRead += n;
        at += n;
        if (prefixRead < 5) return;
        if (prefix[0] !== 0) return fail(status.INTERNAL, 'Received a compressed message without grpc-encoding');
        const length = prefix.readUInt32BE(1);
        if (length > options.maxReceiveBytes) {
          return fail(status.RESOURCE_EXHAUSTED, `Received message larger than max (${length} vs. ${options.maxReceiveBytes})`);
        }
        // One buffer per message, filled as frames arrive (grpc-js gathers them and joins them);
        // a large one from the pool, since fresh ones drive V8's full collections (buffer-pool.ts).
        message = options.pool && length >= MIN_CLASS_BYTES ? options.pool.acquire(length).subarray(0, length) : Buffer.allocUnsafe(length);
        continue;
      }
      const n = Math.min(message!.length - messageRead, chunk.length - at);
      chunk.copy(message!, messageRead, at, at + n);
      messageRead += n;
      at += n;
    }
  };
  stream.on('data', onData);
  let deadline = Infinity;
  const timeout = headers['grpc-timeout'];
  if (timeout !== undefined) {
    const match = TIMEOUT.exec(String(timeout));
    if (!match) return fail(status.INTERNAL, `Invalid grpc-timeout value "${timeout}"`);
    const ms = Number(match[1]) * UNIT_MS[match[2]];
    deadline = Date.now() + ms;
    timer = setTimeout(() => finish({ ok: false, code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' }), Math.max(0, ms));
  }

  stream.on('end', () => {
    if (finished) return;
    if (!message || messageRead < message.length) return fail(status.UNIMPLEMENTED, 'No message received for server unary call');
    let request: unknown;
    try {
      request = method.decode(message);
    } catch (err) {
      return fail(status.INTERNAL, `Error deserializing request: ${(err as Error).message}`);
    }
    handlerRunning = true;
    const done = message;
    method
      .run(request, { path: headers[':path'] ?? '', headers, deadline })
      .catch((err: unknown): UnaryOutcome<unknown> => {
        options.logger.error({ err: (err as Error).message }, 'unary handler threw past its error mapping');
        return { ok: false, code: status.INTERNAL, details: 'Internal server error' };
      })
      .then((outcome) => {
        // Serializing the response copies it, so even an answer that echoed the request is safe.
        finish(outcome);
        release(done);
      });
  });
  stream.on('close', () => {
    finished = true; // a reset or lost connection: nobody to answer
    clearTimeout(timer);
    giveBack();
  });
}

function sendMessage(stream: ServerHttp2Stream, body: Buffer): void {
  const prefix = Buffer.allocUnsafe(5);
  prefix[0] = 0;
  prefix.writeUInt32BE(body.length, 1);
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status.OK), 'grpc-message': '' }));
  stream.write(prefix);
  stream.end(body);
}

/** A trailers-only response: the status in the one HEADERS frame that ends the stream. */
function sendStatus(stream: ServerHttp2Stream, code: status, details: string): void {
  if (stream.headersSent) {
    stream.close();
    return;
  }
  stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': percentEncoded(details) }, { endStream: true });
}

/** grpc-message is percent-encoded (as grpc-js does it); a lone surrogate would make encodeURI throw. */
function percentEncoded(details: string): string {
  try {
    return encodeURI(details);
  } catch {
    return encodeURI(details.replace(/[\uD800-\uDFFF]/g, '\uFFFD'));
  }
}
