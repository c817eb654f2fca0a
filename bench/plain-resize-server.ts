// (b) of the gateway benchmark: the simplest alternative a user could build, one Node process
// with node:http and sharp doing the same resize as the resize service (resizeInProcess, the
// service's code: header check, upright decode, resize, encode in the input's format).
// POST /resize?width=N with the image as the body answers the resized image. Prints
// `READY plain <port>`.
import http from 'node:http';
import { configureSharp } from '../services/shared/image-codec.js';
import { resizeInProcess } from './lib/inprocess.js';

configureSharp(); // as the services do

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://x');
    const width = Number(url.searchParams.get('width') ?? 1024);
    const data = Buffer.concat(chunks);
    resizeInProcess(data, { width, fit: 'inside', withoutEnlargement: true }).then(
      (out) => {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': out.length });
        res.end(out);
      },
      (err: unknown) => {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(String((err as Error).message));
      },
    );
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`READY plain ${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
