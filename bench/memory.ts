// Section 4: peak resident memory of each service process while it works on 24 MP photos at a
// given concurrency (8 is the target; 1 and 16 show the bound holds at any concurrency). The
// photo is read from storage and the output written back, as in a pipeline; the gateway is
// measured with raw-mode resizes, where it holds the request bodies itself.
import type { ServiceName } from '../services/local-stack/launcher.js';
import { callDetect, callFilter, callResize, clients, output, seedRequests, source } from './lib/grpc.js';
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
