// The process-level tuning the benchmarks rest on, checked on a real service process: the V8
// flags and the environment it starts with (here and in the Dockerfile), its call limit and
// libvips threads per image, and the HTTP/2 receive windows its gRPC server advertises to a
// client on loopback.
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { SERVICE_NODE_FLAGS } from '../../services/shared/node-flags.js';
import { SERVICE_PROCESS_ENV } from '../../services/shared/process-env.js';
import { startService } from '../support/services.js';

/** The receive windows a server advertises: the stream window from SETTINGS, the connection's from WINDOW_UPDATE. */
async function advertisedWindows(port: number): Promise<{ stream: number; connection: number }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      session.once('error', reject);
      const report = () => resolve({ stream: session.remoteSettings.initialWindowSize ?? 0, connection: session.state.remoteWindowSize ?? 0 });
      // A server that never widens: report what it has, so the assertion says what is wrong.
      const giveUp = setTimeout(report, 2_000);
      // The widened window comes in a second SETTINGS frame after grpc-js' own, with the
      // connection's WINDOW_UPDATE right behind it.
      session.on('remoteSettings', () => {
        if ((session.remoteSettings.initialWindowSize ?? 0) <= 65_535) return;
        clearTimeout(giveUp);
        setTimeout(report, 100);
      });
    });
  } finally {
    session.destroy();
  }
}

const environ = (pid: number): Record<string, string> =>
  Object.fromEntries(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

describe('a service process', () => {
  let widened: ServiceProcess;
  let narrow: ServiceProcess;
  let overridden: ServiceProcess;
  let metricsPort: number;
  let narrowMetricsPort: number;
  beforeAll(async () => {
    [widened, narrow] = await Promise.all([
      startService('resize', { METRICS_PORT: '0' }),
      startService('resize', { GRPC_FLOW_CONTROL_WINDOW_BYTES: '1048576', SHARP_CONCURRENCY: '3', METRICS_PORT: '0' }),
    ]);
    [metricsPort, narrowMetricsPort] = [widened.metricsPort!, narrow.metricsPort!];
    overridden = await startService('resize', { METRICS_PORT: '0', ...Object.fromEntries(Object.keys(SERVICE_PROCESS_ENV).map((key) => [key, '7'])) });
  });
  afterAll(async () => {
    await Promise.all([widened?.stop(), narrow?.stop(), overridden?.stop()]);
  });

  it('starts with the V8 flags of services/shared/node-flags.ts', () => {
    const argv = readFileSync(`/proc/${widened.child.pid}/cmdline`, 'utf8').split('\0');
    for (const flag of SERVICE_NODE_FLAGS) expect(argv).toContain(flag);
  });

  it('starts with the environment of services/shared/process-env.ts, under the caller\'s own', () => {
    expect(Object.keys(SERVICE_PROCESS_ENV).length).toBeGreaterThan(0);
    for (const [key, value] of Object.entries(SERVICE_PROCESS_ENV)) {
      // A value in the shell that started the tests wins, as it does for `npm run dev`.
      expect(environ(widened.child.pid!)[key], key).toBe(process.env[key] ?? value);
      expect(environ(overridden.child.pid!)[key], key).toBe('7');
    }
  });

  const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

  it('runs max(2, 2 × cores) resize calls at once when MAX_CONCURRENT_CALLS is not set', async () => {
    const max = /^imageflow_limiter_calls\{state="max_running",service="resize"\} (\d+)$/m.exec(await scrape(metricsPort))?.[1];
    expect(Number(max)).toBe(Math.max(2, 2 * availableParallelism()));
  });

  it('runs one libvips thread per image unless SHARP_CONCURRENCY says otherwise, though MALLOC_ARENA_MAX is set', async () => {
    // sharp's own default turns into one thread per CPU once MALLOC_ARENA_MAX is in the environment.
    expect(environ(widened.child.pid!).MALLOC_ARENA_MAX).toBeTruthy();
    const threads = async (port: number) => Number(/^imageflow_libvips_threads_per_image\{service="resize"\} (\d+)$/m.exec(await scrape(port))?.[1]);
    expect(await threads(metricsPort)).toBe(1);
    expect(await threads(narrowMetricsPort)).toBe(3);
  });

  it('advertises an 8 MiB HTTP/2 receive window per stream and per connection by default', async () => {
    const windows = await advertisedWindows(widened.port);
    expect(windows.stream).toBe(8 * 1024 * 1024);
    expect(windows.connection).toBeGreaterThanOrEqual(8 * 1024 * 1024);
  });

  it('takes the window from GRPC_FLOW_CONTROL_WINDOW_BYTES', async () => {
    const windows = await advertisedWindows(narrow.port);
    expect(windows.stream).toBe(1024 * 1024);
    expect(windows.connection).toBeGreaterThanOrEqual(1024 * 1024);
  });
});

describe('the Dockerfile', () => {
  it('starts every image with the same V8 flags as the local launcher', () => {
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8'));
    expect(entrypoint, 'Dockerfile has an exec-form ENTRYPOINT').not.toBeNull();
    const argv = JSON.parse(entrypoint![1]) as string[];
    expect(argv[0]).toBe('node');
    for (const flag of SERVICE_NODE_FLAGS) expect(argv).toContain(flag);
  });

  it('sets the same environment as the local launcher', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const env = new Map([...dockerfile.matchAll(/^ENV\s+(.+)$/gm)].flatMap((m) => [...m[1].matchAll(/(\w+)=(\S+)/g)].map((kv) => [kv[1], kv[2]] as const)));
    for (const [key, value] of Object.entries(SERVICE_PROCESS_ENV)) expect(env.get(key), key).toBe(value);
  });
});
