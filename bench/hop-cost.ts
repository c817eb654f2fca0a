// Where the CPU of one resize goes: CPU time (user + system, from /proc/<pid>/stat) that the
// gateway process and the resize service process each spend per request, for the gateway's raw
// mode, its JSON mode with the image inline as base64, and its JSON mode with the image in S3.
// On a 2-core machine every millisecond the gateway spends is a millisecond sharp does not get,
// so this is what bounds the gateway's throughput relative to in-process sharp.
import { readFileSync } from 'node:fs';
import { postImage, postJson } from './lib/http.js';
import { load } from './lib/measure.js';
import type { Photo } from './lib/photos.js';
import type { BenchStack } from './lib/stack.js';

const TICK_MS = 10; // USER_HZ is 100 on Linux

export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

export interface HopCostRow {
  readonly mode: 'raw' | 'json-base64' | 'json-storage';
  readonly photo: string;
  readonly requests: number;
  readonly gatewayCpuMs: number;
  readonly resizeCpuMs: number;
  readonly p50Ms: number;
}

export async function runHopCost(stack: BenchStack, photos: readonly { photo: Photo; key: string }[], quick: boolean): Promise<HopCostRow[]> {
  const gw = stack.gatewayUrl!;
  const gwPid = stack.pids.gateway!;
  const rsPid = stack.pids.resize!;
  const rows: HopCostRow[] = [];
  for (const { photo, key } of photos) {
    const b64 = photo.data.toString('base64');
    const modes: Record<HopCostRow['mode'], () => Promise<unknown>> = {
      raw: () => postImage(`${gw}/v1/resize?width=1024&withoutEnlargement=true`, photo.data),
      'json-base64': () => postJson(`${gw}/v1/resize`, { input: { data: b64 }, width: 1024, withoutEnlargement: true }),
      'json-storage': () => postJson(`${gw}/v1/resize`, { input: { key }, width: 1024, withoutEnlargement: true }),
    };
    const n = (quick ? 8 : 30) * (photo.megapixels > 6 ? 1 : 3);
    for (const [mode, fn] of Object.entries(modes) as [HopCostRow['mode'], () => Promise<unknown>][]) {
      await load({ label: 'warm-up', concurrency: 4, iterations: 4, warmup: 0 }, fn);
      const g0 = cpuMs(gwPid);
      const r0 = cpuMs(rsPid);
      const stats = await load({ label: `${mode} ${photo.name}`, concurrency: 4, iterations: n, warmup: 0, maxMs: 60_000 }, fn);
      rows.push({
        mode,
        photo: photo.name,
        requests: stats.n,
        gatewayCpuMs: (cpuMs(gwPid) - g0) / Math.max(1, stats.n),
        resizeCpuMs: (cpuMs(rsPid) - r0) / Math.max(1, stats.n),
        p50Ms: stats.p50,
      });
    }
  }
  return rows;
}
