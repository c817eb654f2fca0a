// Bounded fuzzing with a fixed seed: valid images mutated (bit flips, byte runs, truncations,
// header edits, cuts, splices) go through resize and filter. Every call must end within its
// deadline with OK (and an output that decodes) or INVALID_ARGUMENT; never INTERNAL/UNKNOWN, a
// hang, or a crashed process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { FilterType } from '../../services/shared/gen/imageflow/v1/filter.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { filterClient, resizeClient, startService } from '../support/services.js';
import { mutate } from './support/corpus.js';
import { countBy, percentile, runLoad } from './support/load.js';
import { scrape, sum } from './support/prometheus.js';

const CASES = Number(process.env.FUZZ_CASES ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 20261127);
const DEADLINE_MS = 10_000;

let resizeProc: ServiceProcess;
let filterProc: ServiceProcess;
let metricsPorts: number[];
let seeds: Array<{ name: string; data: Buffer }>;

beforeAll(async () => {
  [resizeProc, filterProc] = await Promise.all([
    startService('resize', { METRICS_PORT: '0' }),
    startService('filter', { METRICS_PORT: '0' }),
  ]);
  metricsPorts = [resizeProc.metricsPort!, filterProc.metricsPort!];
  const gif = await sharp(await makePhoto(64, 48, 'png', 7)).gif().toBuffer();
  const tiff = await sharp(await makePhoto(64, 48, 'png', 8)).tiff().toBuffer();
  seeds = [
    { name: 'jpeg', data: await makePhoto(96, 64, 'jpeg', 1) },
    { name: 'png', data: await makePhoto(96, 64, 'png', 2) },
    { name: 'webp', data: await makePhoto(96, 64, 'webp', 3) },
    { name: 'avif', data: await makePhoto(64, 48, 'avif', 4) },
    { name: 'gif', data: gif },
    { name: 'tiff', data: tiff },
  ];
});

afterAll(async () => {
  await Promise.all([resizeProc?.stop(), filterProc?.stop()]);
});

const inline = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false };

describe(`fuzz: ${CASES} mutated images (seed ${SEED})`, () => {
  it('no crash, no hang past the deadline, no INTERNAL/UNKNOWN; OK outputs decode', { timeout: 240_000 }, async () => {
    const resize = resizeClient(resizeProc.port);
    const filter = filterClient(filterProc.port);
    const failures: string[] = [];
    const outcomes = await runLoad({
      concurrency: 4,
      total: CASES,
      task: async (i) => {
        const base = seeds[i % seeds.length];
        const { data, how } = mutate(base.data, SEED + i);
        const viaFilter = i % 3 === 2;
        const deadline = Date.now() + DEADLINE_MS;
        const res = await new Promise<{ err: grpc.ServiceError | null; out?: { data: Buffer; width: number; height: number } }>((resolve) => {
          const cb = (err: grpc.ServiceError | null, r?: { output?: { data: Buffer; width: number; height: number } }) => resolve({ err, out: r?.output });
          if (viaFilter) filter.filter({ source: { data }, operations: [{ type: FilterType.FILTER_TYPE_BLUR, intensity: 1.5 }], output: inline }, new grpc.Metadata(), { deadline }, cb);
          else resize.resize({ source: { data }, width: 48, fit: 0, withoutEnlargement: false, background: '', output: inline }, new grpc.Metadata(), { deadline }, cb);
        });
        const status = res.err ? grpc.status[res.err.code] : 'OK';
        if (status !== 'OK' && status !== 'INVALID_ARGUMENT') failures.push(`#${i} ${base.name} ${how}: ${status} ${res.err?.details}`);
        if (status === 'OK') {
          const meta = await sharp(res.out!.data).metadata().catch((e: Error) => (failures.push(`#${i} ${base.name} ${how}: OK but output does not decode: ${e.message}`), undefined));
          if (meta && (meta.width !== res.out!.width || meta.height !== res.out!.height)) failures.push(`#${i}: OK but size mismatch`);
        }
        return status;
      },
    });
    resize.close();
    filter.close();
    const ms = outcomes.map((o) => o.ms);
    const summary = { cases: outcomes.length, codes: countBy(outcomes), p50: percentile(ms, 50), p99: percentile(ms, 99), max: Math.max(...ms) };
    console.log(`fuzz summary ${JSON.stringify(summary)}`);
    for (const o of outcomes.filter((x) => x.status === 'THROWN')) failures.push(`test task threw: ${o.detail}`);
    expect(failures).toEqual([]);
    expect(outcomes).toHaveLength(CASES);
    expect(summary.max).toBeLessThan(DEADLINE_MS + 1_000);
    expect(resizeProc.child.exitCode).toBeNull();
    expect(filterProc.child.exitCode).toBeNull();
    // The services' own count agrees: nothing but OK and INVALID_ARGUMENT.
    for (const port of metricsPorts) {
      const m = await scrape(port);
      const total = sum(m, 'imageflow_grpc_server_handled_total');
      const expected = sum(m, 'imageflow_grpc_server_handled_total', { code: 'OK' }) + sum(m, 'imageflow_grpc_server_handled_total', { code: 'INVALID_ARGUMENT' });
      expect(total).toBe(expected);
    }
  });
});
