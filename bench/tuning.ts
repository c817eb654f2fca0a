// Thread-pool sizing on this machine: the resize service started with different libvips thread
// counts (SHARP_CONCURRENCY: libvips threads per image, 1 by default), libuv
// pool sizes (UV_THREADPOOL_SIZE, where sharp's work queues) and call limits
// (MAX_CONCURRENT_CALLS), measured side by side over gRPC with inline images: latency at
// concurrency 1 and throughput at concurrency 8, interleaved round by round.
import { spawnService, type ServiceProcess } from '../services/local-stack/launcher.js';
import { callResize, clients, output, seedRequests, source } from './lib/grpc.js';
import { load, type Stats } from './lib/measure.js';
import type { Photo } from './lib/photos.js';

export interface TuningConfig {
  readonly name: string;
  readonly env: Record<string, string>;
}

export const TUNING_CONFIGS: readonly TuningConfig[] = [
  { name: 'defaults (libvips 1 thread/image, UV pool 4, 2 calls at once)', env: {} },
  { name: 'SHARP_CONCURRENCY=2', env: { SHARP_CONCURRENCY: '2' } },
  { name: 'SHARP_CONCURRENCY=2, MAX_CONCURRENT_CALLS=1', env: { SHARP_CONCURRENCY: '2', MAX_CONCURRENT_CALLS: '1' } },
  { name: 'MAX_CONCURRENT_CALLS=4', env: { MAX_CONCURRENT_CALLS: '4' } },
  { name: 'UV_THREADPOOL_SIZE=2', env: { UV_THREADPOOL_SIZE: '2' } },
];

export interface TuningRow {
  readonly config: string;
  readonly env: Record<string, string>;
  readonly photo: string;
  readonly c1: Stats;
  readonly c8: Stats;
}

/**
 * Every configuration runs in its own process, all started up front; the loads are interleaved
 * round by round (config 1, 2, …, then again), so a disturbance of the machine hits them alike.
 */
export async function runTuningBench(photos: readonly Photo[], quick: boolean, configs = TUNING_CONFIGS): Promise<TuningRow[]> {
  const procs: ServiceProcess[] = [];
  try {
    for (const config of configs) {
      procs.push(await spawnService('resize', { env: { GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', LOG_LEVEL: 'warn', MINIO_ENDPOINT: '', ...config.env } }));
    }
    const cs = procs.map((p) => clients({ resize: p.port }));
    const rounds = quick ? 1 : 2;
    const samples = new Map<string, { c1: Stats[]; c8: Stats[] }>();
    try {
      for (const p of photos) {
        const heavy = p.megapixels > 6;
        for (let round = 0; round < rounds; round++) {
          for (const [i, config] of configs.entries()) {
            const call = () => callResize(cs[i].resize!, seedRequests.resize(source.inline(p.data), output.inline()));
            const c1 = await load({ label: `${config.name} ${p.name} c1`, concurrency: 1, iterations: heavy ? 4 : 8, warmup: round === 0 ? 2 : 1, maxMs: 10_000 }, call);
            const c8 = await load({ label: `${config.name} ${p.name} c8`, concurrency: 8, iterations: heavy ? 8 : 24, warmup: 8, maxMs: 15_000 }, call);
            const key = `${i}|${p.name}`;
            const entry = samples.get(key) ?? { c1: [], c8: [] };
            entry.c1.push(c1);
            entry.c8.push(c8);
            samples.set(key, entry);
          }
        }
      }
    } finally {
      for (const c of cs) c.close();
    }
    const rows: TuningRow[] = [];
    for (const p of photos) {
      for (const [i, config] of configs.entries()) {
        const { c1, c8 } = samples.get(`${i}|${p.name}`)!;
        rows.push({ config: config.name, env: config.env, photo: p.name, c1: merge(c1), c8: merge(c8) });
      }
    }
    return rows;
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

/** Rounds of one configuration as one result: latency of the median round, throughput over all rounds. */
function merge(rounds: readonly Stats[]): Stats {
  const byP50 = [...rounds].sort((a, b) => a.p50 - b.p50);
  const mid = byP50[Math.floor(byP50.length / 2)];
  const n = rounds.reduce((a, r) => a + r.n, 0);
  const wallMs = rounds.reduce((a, r) => a + r.wallMs, 0);
  return { ...mid, n, wallMs, rps: (n * 1000) / wallMs, errors: rounds.reduce((a, r) => a + r.errors, 0) };
}
