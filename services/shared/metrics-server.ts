// A tiny HTTP server for Prometheus next to a gRPC service: GET /metrics on METRICS_PORT. Kept
// apart from the gRPC port so scraping never competes with the call queue's back-pressure.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly registry: Registry;
  readonly logger: Logger;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, logger } = options;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'metrics collection failed');
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics collection failed\n');
      },
    );
  });
  // Scrapes are short; never let an idle keep-alive socket hold up shutdown.
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, options.host, options.port).catch(async (err: NodeJS.ErrnoException) => {
    // Several services on one machine (npm run dev) share the default port: fall back to a free
    // one and say which, rather than refuse to start a service over its metrics.
    if (err.code !== 'EADDRINUSE' || options.port === 0) throw err;
    const fallback = await listen(server, options.host, 0);
    logger.warn({ wanted: options.port, port: fallback }, 'metrics port in use; serving metrics on a free port instead');
    return fallback;
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
