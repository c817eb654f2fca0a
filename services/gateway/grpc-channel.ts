// The gateway's gRPC client: unary calls over one node:http2 connection, speaking the gRPC wire
// protocol (length-prefixed messages, grpc-timeout, grpc-status trailers) to the grpc-js servers.
//
// Why not grpc-js' client: on the gateway's hot path it framed every request with a copy of the
// whole message (a 4.5 MB copy per 12 MP photo, plus the garbage it leaves for V8's old-space
// collections) and ran each call through a stack of filters and interceptors the gateway does
// not use; with this client a raw resize costs the gateway less CPU per request (BENCHMARKS.md,
// finding 17). Retries, the breaker and deadlines stay in upstreams.ts; this file owns the
// connection: on-demand connect with exponential back-off after a failure, HTTP/2 receive
// windows, keepalive pings, TLS/mTLS, and failures reported as gRPC status codes.
import http2 from 'node:http2';
import type { SecureContextOptions } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { trackSend } from '../shared/buffer-pool.js';

export interface ChannelTls {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface ChannelOptions {
  /** host:port */
  readonly target: string;
  readonly tls?: ChannelTls;
  readonly maxSendBytes: number;
  readonly maxReceiveBytes: number;
  /** HTTP/2 receive window per stream and per connection. */
  readonly windowBytes: number;
  readonly keepaliveMs: number;
  /** A ping not answered within this closes the connection. @default 10000 */
  readonly keepaliveTimeoutMs?: number;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs: number;
  /** A connection not established within this fails the calls waiting for it. @default 5000 */
  readonly connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** A failed call, shaped like grpc-js' ServiceError so errors.ts and the retry logic read it alike. */
export class CallError extends Error {
  readonly metadata = {};
  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(`${code} ${status[code]}: ${details}`);
  }
}

export interface UnaryCall {
  /** e.g. /imageflow.v1.ResizeService/Resize */
  readonly path: string;
  /** The serialized request message. */
  readonly message: Uint8Array;
  /** Sent as request headers (x-request-id, traceparent). */
  readonly metadata: Record<string, string>;
  /** Absolute, ms since the epoch. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

const {
  HTTP2_HEADER_METHOD,
  HTTP2_HEADER_PATH,
  HTTP2_HEADER_STATUS,
  HTTP2_HEADER_CONTENT_TYPE,
  HTTP2_HEADER_TE,
  NGHTTP2_CANCEL,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_ENHANCE_YOUR_CALM,
} = http2.constants;

const USER_AGENT = 'imageflow-gateway grpc-node-http2';

/** One HTTP/2 connection to a gRPC server, (re)connected on demand. */
export class GrpcChannel {
  private session?: http2.ClientHttp2Session;
  private connecting?: Promise<http2.ClientHttp2Session>;
  /** After a failed connect, calls fail at once until then (ms since the epoch). */
  private retryAt = 0;
  private backoffMs: number;
  private lastConnectError = '';
  private keepalive?: NodeJS.Timeout;
  private closed = false;
  private readonly authority: string;

  constructor(private readonly options: ChannelOptions) {
    this.authority = `${options.tls ? 'https' : 'http'}://${options.target}`;
    this.backoffMs = options.initialBackoffMs ?? 100;
  }

  /** One unary call; resolves with the response message, rejects with a CallError. */
  async call(call: UnaryCall): Promise<Buffer> {
    if (call.signal?.aborted) throw new CallError(status.CANCELLED, 'the caller cancelled the call');
    if (call.message.length > this.options.maxSendBytes) {
      throw new CallError(status.RESOURCE_EXHAUSTED, `request message of ${call.message.length} bytes exceeds the limit of ${this.options.maxSendBytes}`);
    }
    const remaining = call.deadline - Date.now();
    if (remaining <= 0) throw new CallError(status.DEADLINE_EXCEEDED, 'deadline exceeded before the call started');
    const session = await this.connected(call.deadline);
    // The signal may have aborted while the connection was being made (its listener comes later).
    if (call.signal?.aborted) throw new CallError(status.CANCELLED, 'the caller cancelled the call');
    return this.exchange(session, call);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.keepalive);
    this.session?.close();
    this.session = undefined;
  }

  private async connected(deadline: number): Promise<http2.ClientHttp2Session> {
    if (this.closed) throw new CallError(status.UNAVAILABLE, 'channel closed');
    const live = this.session;
    if (live && !live.closed && !live.destroyed) return live;
    if (!this.connecting) {
      if (Date.now() < this.retryAt) {
        throw new CallError(status.UNAVAILABLE, `cannot connect to ${this.options.target}: ${this.lastConnectError} (next attempt in ${this.retryAt - Date.now()} ms)`);
      }
      this.connecting = this.connect().finally(() => (this.connecting = undefined));
    }
    const timeout = Math.min(deadline - Date.now(), this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.connecting,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new CallError(status.UNAVAILABLE, `no connection to ${this.options.target} within ${timeout} ms`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private connect(): Promise<http2.ClientHttp2Session> {
    const { tls, windowBytes } = this.options;
    const secure: SecureContextOptions = tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {};
    return new Promise((resolve, reject) => {
      const session = http2.connect(this.authority, {
        ...secure,
        settings: { initialWindowSize: windowBytes, enablePush: false },
        // Node counts queued upload bytes against this (10 MB by default) and, past it, resets
        // every stream whose answer arrives with ENHANCE_YOUR_CALM: eight 12 MP uploads waiting
        // on flow control were enough. The gateway's byte budget bounds uploads instead (as
        // grpc-js does on its servers).
        maxSessionMemory: Number.MAX_SAFE_INTEGER,
      });
      let failed = false;
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        session.destroy();
        this.lastConnectError = err.message;
        this.retryAt = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(this.options.maxBackoffMs, this.backoffMs * 2);
        reject(new CallError(status.UNAVAILABLE, `cannot connect to ${this.options.target}: ${err.message}`));
      };
      const connectTimeoutMs = this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
      const timer = setTimeout(() => fail(new Error(`no connection within ${connectTimeoutMs} ms`)), connectTimeoutMs);
      session.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      session.once('connect', () => {
        clearTimeout(timer);
        if (this.closed) {
          session.close();
          reject(new CallError(status.UNAVAILABLE, 'channel closed'));
          return;
        }
        session.removeAllListeners('error');
        this.backoffMs = this.options.initialBackoffMs ?? 100;
        session.setLocalWindowSize(windowBytes);
        // Errors end the streams on the session (each call reports its own); the next call reconnects.
        session.on('error', () => {});
        session.once('close', () => {
          if (this.session === session) this.session = undefined;
        });
        session.on('goaway', () => {
          if (this.session === session) this.session = undefined;
        });
        session.unref();
        this.session = session;
        this.startKeepalive();
        resolve(session);
      });
    });
  }

  /** Pings the live connection; one that does not answer is closed, so the next call reconnects. */
  private startKeepalive(): void {
    if (this.keepalive || this.options.keepaliveMs <= 0) return;
    this.keepalive = setInterval(() => {
      const session = this.session;
      if (!session || session.destroyed) return;
      const timer = setTimeout(() => session.destroy(new Error('keepalive ping not answered')), this.options.keepaliveTimeoutMs ?? 10_000);
      timer.unref();
      try {
        session.ping((err) => {
          clearTimeout(timer);
          if (err) session.destroy(err);
        });
      } catch {
        clearTimeout(timer);
      }
    }, this.options.keepaliveMs);
    this.keepalive.unref();
  }

  private exchange(session: http2.ClientHttp2Session, call: UnaryCall): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      const timeoutMs = Math.max(1, call.deadline - Date.now());
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(
          {
            [HTTP2_HEADER_METHOD]: 'POST',
            [HTTP2_HEADER_PATH]: call.path,
            [HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
            [HTTP2_HEADER_TE]: 'trailers',
            'grpc-timeout': `${timeoutMs}m`,
            'user-agent': USER_AGENT,
            ...call.metadata,
          },
          { endStream: false },
        );
      } catch (err) {
        // The session went away between the check and the request (GOAWAY, closed).
        if (this.session === session) this.session = undefined;
        reject(new CallError(status.UNAVAILABLE, `connection to ${this.options.target} lost: ${(err as Error).message}`));
        return;
      }
      let settled = false;
      let httpStatus = 0;
      let grpcStatus: number | undefined;
      let grpcMessage = '';
      const chunks: Buffer[] = [];
      let received = 0;
      const done = (err: CallError | undefined, value?: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value!);
      };
      const abort = (err: CallError) => {
        done(err);
        if (!stream.closed) stream.close(NGHTTP2_CANCEL);
      };
      const timer = setTimeout(() => abort(new CallError(status.DEADLINE_EXCEEDED, `deadline of ${timeoutMs} ms exceeded`)), timeoutMs);
      const onAbort = () => abort(new CallError(status.CANCELLED, 'the caller cancelled the call'));
      call.signal?.addEventListener('abort', onAbort, { once: true });

      const readStatus = (headers: http2.IncomingHttpHeaders) => {
        const code = headers['grpc-status'];
        if (code !== undefined) {
          grpcStatus = Number(code);
          grpcMessage = decodeGrpcMessage(String(headers['grpc-message'] ?? ''));
        }
      };
      stream.on('response', (headers) => {
        httpStatus = Number(headers[HTTP2_HEADER_STATUS]);
        readStatus(headers); // a trailers-only response carries the status in the headers
      });
      stream.on('trailers', readStatus);
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > this.options.maxReceiveBytes + 5) {
          abort(new CallError(status.RESOURCE_EXHAUSTED, `response message larger than the limit of ${this.options.maxReceiveBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', () => {}); // reported through 'close' below
      const settle = () => {
        if (settled) return;
        if (grpcStatus === undefined) {
          done(this.withoutStatus(httpStatus, stream.rstCode, session.closed || session.destroyed));
          return;
        }
        if (grpcStatus !== status.OK) {
          done(new CallError(grpcStatus in status ? grpcStatus : status.UNKNOWN, grpcMessage || status[grpcStatus] || 'unknown status'));
          return;
        }
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received);
        const message = unframe(body);
        if (typeof message === 'string') done(new CallError(status.INTERNAL, message));
        else done(undefined, message);
      };
      // With the status in hand the call is over at the end of the data; 'close' comes an
      // event-loop turn later. Without one, only 'close' (with its reset code) says what happened.
      stream.on('end', () => {
        if (grpcStatus !== undefined) settle();
      });
      stream.on('close', settle);

      // The gRPC frame: a 5-byte prefix (not compressed, length) and the message, written as two
      // buffers so the message is not copied.
      const prefix = Buffer.allocUnsafe(5);
      prefix[0] = 0;
      prefix.writeUInt32BE(call.message.length, 1);
      // end()'s callback comes after the socket wrote the message's last bytes, or with an error
      // once the stream is destroyed (bytes may still be in flight: buffer-pool.ts never reuses them).
      const sent = trackSend(call.message);
      stream.write(prefix);
      stream.end(call.message, (err?: Error | null) => sent(!err));
    });
  }

  /** A stream that closed without a grpc-status: what the gRPC spec maps it to. */
  private withoutStatus(httpStatus: number, rstCode: number, connectionGone: boolean): CallError {
    if (httpStatus && httpStatus !== 200) {
      const code = { 400: status.INTERNAL, 401: status.UNAUTHENTICATED, 403: status.PERMISSION_DENIED, 404: status.UNIMPLEMENTED, 429: status.UNAVAILABLE, 502: status.UNAVAILABLE, 503: status.UNAVAILABLE, 504: status.UNAVAILABLE }[httpStatus] ?? status.UNKNOWN;
      return new CallError(code, `${this.options.target} answered HTTP ${httpStatus} without a gRPC status`);
    }
    if (rstCode === NGHTTP2_REFUSED_STREAM) return new CallError(status.UNAVAILABLE, `${this.options.target} refused the stream (it was not processed)`);
    if (rstCode === NGHTTP2_ENHANCE_YOUR_CALM) return new CallError(status.RESOURCE_EXHAUSTED, `${this.options.target} reset the stream: ENHANCE_YOUR_CALM`);
    // Node closes the streams of a dropped connection with CANCEL too: that is not the server cancelling.
    if (rstCode === NGHTTP2_CANCEL && !connectionGone) return new CallError(status.CANCELLED, `${this.options.target} cancelled the stream`);
    return new CallError(status.UNAVAILABLE, `connection to ${this.options.target} closed before the call finished${rstCode ? ` (HTTP/2 error ${rstCode})` : ''}`);
  }
}

/** The one message of a unary response, or what is wrong with the body. */
function unframe(body: Buffer): Buffer | string {
  if (body.length < 5) return `response has no message (${body.length} bytes)`;
  if (body[0] !== 0) return 'response message is compressed; the gateway asks for none';
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) return `response framing is wrong: ${body.length - 5} bytes for a message of ${length}`;
  return body.subarray(5);
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec). */
function decodeGrpcMessage(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
