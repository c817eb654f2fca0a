// Thread-pool sizing on this machine: the resize service started with different libvips thread
// counts (SHARP_CONCURRENCY; sharp's own default is 1 thread per image on glibc Linux), libuv
// pool sizes (UV_THREADPOOL_SIZE, where sharp's work queues) and call limits
// (MAX_CONCURRENT_CALLS), measured side by side over gRPC with inline images: latency at
// concurrency 1 and throughput at concurrency 8.
import { spawnService } from '../services/local-stack/launcher.js';
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

export async function runTuningBench(photos: readonly Photo[], quick: boolean, configs = TUNING_CONFIGS): Promise<TuningRow[]> {
  const rows: TuningRow[] = [];
  for (const config of configs) {
    const proc = await spawnService('resize', {
      env: { GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', LOG_LEVEL: 'warn', MINIO_ENDPOINT: '', ...config.env },
    });
    const c = clients({ resize: proc.port });
    try {
      for (const p of photos) {
        const heavy = p.megapixels > 6;
        const call = () => callResize(c.resize!, seedRequests.resize(source.inline(p.data), output.inline()));
        const c1 = await load({ label: `${config.name} ${p.name} c1`, concurrency: 1, iterations: quick ? 4 : heavy ? 8 : 20, warmup: 2, maxMs: 15_000 }, call);
        const c8 = await load({ label: `${config.name} ${p.name} c8`, concurrency: 8, iterations: quick ? 8 : heavy ? 24 : 64, maxMs: 20_000 }, call);
        rows.push({ config: config.name, env: config.env, photo: p.name, c1, c8 });
      }
    } finally {
      c.close();
      await proc.stop();
    }
  }
  return rows;
}
