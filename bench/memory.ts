// Section 4: peak resident memory of each service process while it works on 24 MP photos at a
// given concurrency (8 is the target; 1 and 16 show the bound holds at any concurrency). The
// photo is read from storage and the output written back, as in a pipeline; the gateway is
// measured with raw-mode resizes, where it holds the request bodies itself.
import { pathToFileURL } from 'node:url';
import type { ServiceName } from '../services/local-stack/launcher.js';
import { callDetect, callFilter, callResize, clients, output, seedRequests, source, whenAvailable } from './lib/grpc.js';
import { postImage } from './lib/http.js';
import { load, type Stats } from './lib/measure.js';
import { samplePeak } from './lib/rss.js';
import type { BenchStack } from './lib/stack.js';

export interface MemoryRow {
  readonly service: ServiceName;
  readonly concurrency: number;
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
  /** Peak RSS during the load (kernel VmHWM after a reset, or the sampled max). */
  readonly peakMiB: number;
  readonly idleMiB: number;
  readonly p50Ms: number;
}

export async function runMemoryBench(options: {
  stack: BenchStack;
  key: string;
  data: Buffer;
  levels: readonly { concurrency: number; calls: number }[];
  services?: readonly ServiceName[];
}): Promise<MemoryRow[]> {
  const { stack, key, data } = options;
  const c = clients({ resize: stack.ports.resize, filter: stack.ports.filter, detection: stack.ports.detection });
  const calls: Partial<Record<ServiceName, () => Promise<unknown>>> = {
    resize: () => callResize(c.resize!, seedRequests.resize(source.object(key), output.store(), 2048), 300_000),
    filter: () => callFilter(c.filter!, seedRequests.filter(source.object(key), output.store()), 300_000),
    detection: () => callDetect(c.detection!, seedRequests.detect(source.object(key)), 300_000),
    gateway: () => postImage(`${stack.gatewayUrl}/v1/resize?width=2048`, data),
  };
  const rows: MemoryRow[] = [];
  try {
    for (const service of options.services ?? (['resize', 'filter', 'detection', 'gateway'] as const)) {
      const pid = stack.pids[service];
      const fn = calls[service];
      if (!pid || !fn || (service === 'gateway' && !stack.gatewayUrl)) continue;
      for (const level of options.levels) {
        await new Promise((r) => setTimeout(r, 300)); // let the previous level's garbage go
        const sampler = samplePeak(pid);
        const idle = sampler.stop().lastMiB;
        const during = samplePeak(pid);
        const stats: Stats = await load(
          { label: `${service} c${level.concurrency}`, concurrency: level.concurrency, iterations: level.calls, warmup: 0, maxMs: 240_000 },
          fn,
        );
        const peak = during.stop();
        rows.push({
          service,
          concurrency: level.concurrency,
          calls: stats.n,
          errors: stats.errors,
          firstError: stats.firstError,
          peakMiB: peak.peakMiB,
          idleMiB: idle,
          p50Ms: stats.p50,
        });
      }
    }
  } finally {
    c.close();
  }
  return rows;
}

// Standalone: `npx tsx bench/memory.ts [--services resize,filter] [--levels 1:2,8:8,16:16] [--env K=V ...]`
// starts S3 and the named services (not the gateway unless named), uploads the 24 MP photo and
// prints one row per service and level; --env passes settings to every service process.
async function main(argv: readonly string[]): Promise<void> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const services = (arg('services') ?? 'resize,filter,detection').split(',') as ServiceName[];
  const levels = (arg('levels') ?? '1:2,8:8,16:16').split(',').map((l) => {
    const [c, n] = l.split(':').map(Number);
    return { concurrency: c!, calls: n ?? c! };
  });
  const serviceEnv: Record<string, string> = {};
  argv.forEach((a, i) => {
    if (a === '--env') {
      const [k, ...v] = argv[i + 1]!.split('=');
      serviceEnv[k!] = v.join('=');
    }
  });
  const { startBenchStack } = await import('./lib/stack.js');
  const { photo } = await import('./lib/photos.js');
  const big = await photo('24mp.jpg');
  const stack = await startBenchStack({ only: services, serviceEnv });
  try {
    const key = 'bench/in/24mp.jpg';
    await stack.put(key, big.data);
    // Wait until each service answers (the detection model loads after the port is open).
    const c = clients({ resize: stack.ports.resize, filter: stack.ports.filter, detection: stack.ports.detection });
    const small = await photo('0.3mp.jpg');
    await stack.put('bench/in/small.jpg', small.data);
    if (c.detection) await whenAvailable(() => callDetect(c.detection!, seedRequests.detect(source.object('bench/in/small.jpg'))), 180_000, 200);
    c.close();
    const rows = await runMemoryBench({ stack, key, data: big.data, levels, services });
    console.log(`service     c  calls errors idleMiB peakMiB  p50ms   (${JSON.stringify(serviceEnv)})`);
    for (const r of rows) {
      console.log(
        `${r.service.padEnd(10)} ${String(r.concurrency).padStart(2)} ${String(r.calls).padStart(6)} ${String(r.errors).padStart(6)} ${r.idleMiB.toFixed(0).padStart(7)} ${r.peakMiB.toFixed(0).padStart(7)} ${r.p50Ms.toFixed(0).padStart(6)}${r.firstError ? `  ${r.firstError.slice(0, 80)}` : ''}`,
      );
    }
  } finally {
    await stack.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
