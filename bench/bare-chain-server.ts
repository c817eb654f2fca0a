// (h) of the gateway benchmark: the floor of any two-process design on this machine. The same
// two hops as (d), written with nothing but Node's own servers: a front process (node:http) that
// forwards the body over node:http2 with gRPC's 5-byte framing to a back process (node:http2)
// that does the same resize as (b) and answers framed bytes and a grpc-status trailer. No
// framework, no protobuf, no validation, logging, metrics, retries or deadlines: what (d) costs
// above this is the price of those; what this costs above (a) is the two hops alone.
//
//   node --import tsx bench/bare-chain-server.ts back               → READY back <port>
//   node --import tsx bench/bare-chain-server.ts front <back port>  → READY front <port>
// The front answers POST /resize?width=N with the resized image.
import http from 'node:http';
import http2 from 'node:http2';
import { configureSharp } from '../services/shared/image-codec.js';
import { resizeInProcess } from './lib/inprocess.js';

/** The services' HTTP/2 windows (GRPC_FLOW_CONTROL_WINDOW_BYTES), so no hop waits for window updates. */
const WINDOW = 8 * 1024 * 1024;

const frame = (message: Buffer): Buffer[] => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return [prefix, message];
};

const collect = (stream: NodeJS.ReadableStream, done: (body: Buffer) => void) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(Buffer.concat(chunks)));
};

const ready = (role: string, server: http.Server | http2.Http2Server) => {
  const address = server.address();
  process.stdout.write(`READY ${role} ${typeof address === 'object' && address ? address.port : 0}\n`);
};

function back(): void {
  configureSharp(); // as the services do
  const server = http2.createServer();
  server.on('session', (session) => {
    session.settings({ initialWindowSize: WINDOW });
    session.setLocalWindowSize(WINDOW);
  });
  server.on('stream', (stream, headers) => {
    const width = Number(new URL(String(headers[':path']), 'http://x').searchParams.get('width') ?? 1024);
    collect(stream, (framed) => {
      const data = framed.subarray(5);
      resizeInProcess(data, { width, fit: 'inside', withoutEnlargement: true }).then(
        (out) => {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          const [prefix, message] = frame(out);
          stream.write(prefix);
          stream.end(message);
        },
        (err: unknown) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '3', 'grpc-message': encodeURIComponent((err as Error).message) }, { endStream: true }),
      );
    });
  });
  server.listen(0, '127.0.0.1', () => ready('back', server));
}

function front(backPort: number): void {
  const session = http2.connect(`http://127.0.0.1:${backPort}`, { settings: { initialWindowSize: WINDOW } });
  session.on('connect', () => session.setLocalWindowSize(WINDOW));
  const server = http.createServer((req, res) => {
    collect(req, (body) => {
      const width = new URL(req.url ?? '/', 'http://x').searchParams.get('width') ?? '1024';
      const stream = session.request({ ':method': 'POST', ':path': `/bare.Resize/Resize?width=${width}`, 'content-type': 'application/grpc', te: 'trailers' });
      let grpcStatus = '';
      stream.on('response', (h) => (grpcStatus = String(h['grpc-status'] ?? grpcStatus)));
      stream.on('trailers', (h) => (grpcStatus = String(h['grpc-status'] ?? grpcStatus)));
      const [prefix, message] = frame(body);
      stream.write(prefix);
      stream.end(message);
      collect(stream, (framed) => {
        if (grpcStatus !== '0') {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`back end answered grpc-status ${grpcStatus || 'none'}`);
          return;
        }
        const out = framed.subarray(5);
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': out.length });
        res.end(out);
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => ready('front', server));
}

// A bench helper holds nothing worth draining.
process.once('SIGTERM', () => process.exit(0));
const [role, port] = process.argv.slice(2);
if (role === 'back') back();
else if (role === 'front' && Number(port) > 0) front(Number(port));
else throw new Error('usage: bare-chain-server.ts back | front <back port>');
