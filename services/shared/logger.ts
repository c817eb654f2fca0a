// JSON-lines logs (pino). Each request gets a child logger carrying its request id, so one id
// follows a call from HTTP through gRPC to storage.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    // Credentials must never reach a log line, whatever object a caller passes.
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        '*.headers.authorization',
        'headers["x-api-key"]',
        '*.headers["x-api-key"]',
        'cookie',
        '*.cookie',
        '*.headers.cookie',
        ...['secretKey', 'accessKey', 'sessionToken', 'apiKey', 'apiKeys', 'token', 'password'].flatMap((k) => [k, `*.${k}`]),
      ],
      censor: '[redacted]',
    },
  });
}
