// Entry point of the gateway process: configuration from the environment (exit 1 naming the bad
// variable), listen, print `READY gateway <port>`, drain on SIGTERM/SIGINT.
import { ConfigError } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { initTracing, type Tracing } from '../shared/tracing.js';
import { loadConfig, type GatewayConfig } from './config.js';
import { buildGateway } from './server.js';

let config: GatewayConfig;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`gateway: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}

let tracing: Tracing;
try {
  tracing = await initTracing('gateway', { env: process.env });
} catch (err) {
  process.stderr.write(`gateway: invalid configuration:\n  ${(err as Error).message}\n`);
  process.exit(1);
}

const logger = createLogger('gateway', config.logLevel);
const { app } = await buildGateway(config, { logger });
await app.listen({ host: config.host, port: config.port });
const address = app.server.address();
const port = typeof address === 'object' && address ? address.port : config.port;
logger.info({ port, upstreams: config.endpoints, auth: Boolean(config.apiKeys) }, 'gateway listening');
// One line on stdout that launchers (npm run dev, tests) wait for.
process.stdout.write(`READY gateway ${port}\n`);

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, graceMs: config.shutdownGraceMs }, 'draining: no new connections, finishing in-flight requests');
  const force = setTimeout(() => {
    logger.warn('drain grace period over; exiting with requests in flight');
    process.exit(1);
  }, config.shutdownGraceMs);
  force.unref();
  // Fastify stops accepting, answers 503 on kept-alive connections, waits for in-flight
  // requests, then runs onClose (which closes the gRPC channels). Connections whose last
  // response went out after close() began are idle keep-alives: close them as they appear.
  const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
  sweep.unref();
  app.close().then(
    () => tracing.shutdown().finally(() => process.exit(0)),
    (err: unknown) => {
      logger.error({ err: (err as Error).message }, 'error while closing');
      process.exit(1);
    },
  );
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
