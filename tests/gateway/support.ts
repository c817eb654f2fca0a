// Helpers for the gateway suites: the gateway as a real process, and small HTTP helpers.
import { spawnService, type ServiceProcess } from '../../services/local-stack/launcher.js';

export interface RunningGateway {
  readonly process: ServiceProcess;
  readonly base: string;
  stop(): Promise<void>;
}

export async function startGateway(env: Record<string, string | undefined>): Promise<RunningGateway> {
  const process = await spawnService('gateway', {
    env: { HTTP_HOST: '127.0.0.1', HTTP_PORT: '0', LOG_LEVEL: 'warn', ...env },
    readyTimeoutMs: 30_000,
  });
  return { process, base: `http://127.0.0.1:${process.port}`, stop: () => process.stop() };
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON when the answer is JSON. */
  readonly json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly bytes: Buffer;
  readonly ms: number;
}

export interface RequestOptions {
  readonly method?: string;
  readonly json?: unknown;
  readonly body?: Buffer | string;
  readonly contentType?: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

export async function request(base: string, path: string, options: RequestOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: Buffer | string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] = 'application/json';
  }
  if (options.contentType) headers['content-type'] = options.contentType;
  const started = performance.now();
  const res = await fetch(base + path, {
    method: options.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const ms = performance.now() - started;
  const isJson = (res.headers.get('content-type') ?? '').includes('json');
  return { status: res.status, headers: res.headers, json: isJson && bytes.length ? JSON.parse(bytes.toString('utf8')) : undefined, bytes, ms };
}

export const post = (base: string, path: string, json: unknown, headers?: Record<string, string>) => request(base, path, { json, headers });
export const postRaw = (base: string, path: string, image: Buffer, contentType = 'image/jpeg', headers?: Record<string, string>) =>
  request(base, path, { body: image, contentType, headers });

/** Polls until `check` holds or the time is up. */
export async function eventually<T>(what: string, fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A metric's value from Prometheus text, or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}
