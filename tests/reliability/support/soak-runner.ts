// The soak: the whole stack as separate processes on loopback (MinIO or the embedded S3, resize,
// filter, detection, gateway), a sustained paced mix of operations and image sizes through the
// gateway, RSS of every process sampled over time, then a saturation burst that must be met with
// 503/429 + Retry-After (never 500, never an OOM). Used by soak.ts (minutes) and soak.test.ts
// (a short bounded run).
import { readFileSync } from 'node:fs';
import { spawnService, type ServiceName, type ServiceProcess } from '../../../services/local-stack/launcher.js';
import { makePhoto } from '../../support/images.js';
import { startTestS3, type TestS3 } from '../../support/s3.js';
import { countBy, percentile, runLoad, slope, type Outcome } from './load.js';
import { parsePrometheus, sum } from './prometheus.js';

/** Memory limits of the Deployments (constructs/): resize/filter 1Gi, gateway 512Mi, detection 4Gi. */
export const MEMORY_LIMIT_MIB: Record<ServiceName, number> = { resize: 1024, filter: 1024, gateway: 512, detection: 4096 };

export interface SoakOptions {
  readonly durationMs: number;
  /** Requests per second in the sustained phase. */
  readonly ratePerSec: number;
  /** Excluded from the memory trend (JIT, caches, pools fill up). */
  readonly warmupMs: number;
  readonly sampleEveryMs: number;
  /** Saturation burst after the sustained phase; 0 skips it. */
  readonly saturationMs: number;
  readonly saturationConcurrency: number;
  /** Include detect (the embedded CPU model) in the mix. */
  readonly detect: boolean;
  /** Extra environment for resize/filter/detection (e.g. a tiny queue to reach saturation cheaply). */
  readonly serviceEnv?: Record<string, string>;
  /** Leave the 2400x1600 input out of the sustained mix (short in-suite runs). */
  readonly smallInputsOnly?: boolean;
  readonly log?: (line: string) => void;
}

export interface MemorySeries {
  readonly name: ServiceName;
  readonly limitMiB: number;
  /** [seconds since start, RSS MiB] */
  readonly samples: Array<[number, number]>;
  /** libvips tracked memory (MiB), from /metrics, when the process has it. */
  readonly libvipsHighMiB?: number;
}

export interface OpStats {
  readonly requests: number;
  readonly statuses: Record<string, number>;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface SoakReport {
  readonly s3: string;
  readonly options: Omit<SoakOptions, 'log'>;
  readonly sustained: { readonly total: OpStats; readonly byOp: Record<string, OpStats>; readonly achievedRate: number; readonly errors: number; readonly errorSamples: string[] };
  readonly saturation?: { readonly total: OpStats; readonly retryAfter: number; readonly unexpected: string[] };
  readonly memory: Array<{
    name: ServiceName;
    limitMiB: number;
    startMiB: number;
    afterWarmupMiB: number;
    maxMiB: number;
    endMiB: number;
    /** Least-squares trend after warm-up, MiB per minute. */
    slopeMiBPerMin: number;
    /** Mean RSS of the first and second half after warm-up: a flat process has them close. */
    halvesMiB: [number, number];
    /** Max RSS during the saturation burst. */
    saturationMaxMiB?: number;
    libvipsHighMiB?: number;
  }>;
  readonly serviceCodes: Record<string, Record<string, number>>;
  /** Every RSS sample of the sustained phase: process → [seconds, MiB][]. */
  readonly rssSamples: Record<string, Array<[number, number]>>;
}

type Op = 'resize' | 'resize-raw' | 'filter' | 'pipeline' | 'detect';

function rssMiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

const mean = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN);

function stats(outcomes: readonly Outcome[]): OpStats {
  const ms = outcomes.map((o) => o.ms);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { requests: outcomes.length, statuses: countBy(outcomes), p50: r(percentile(ms, 50)), p95: r(percentile(ms, 95)), p99: r(percentile(ms, 99)), max: r(Math.max(...ms)) };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? (() => {});
  const s3: TestS3 = await startTestS3();
  const procs: Partial<Record<ServiceName, ServiceProcess>> = {};
  try {
    const common = { ...s3.env, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', LOG_LEVEL: 'warn', ...options.serviceEnv };
    const names: ServiceName[] = options.detect ? ['resize', 'filter', 'detection'] : ['resize', 'filter'];
    const started = await Promise.all(names.map((name) => spawnService(name, { env: { ...common, METRICS_PORT: '0' }, readyTimeoutMs: 120_000 })));
    names.forEach((n, i) => (procs[n] = started[i]));
    procs.gateway = await spawnService('gateway', {
      env: {
        ...s3.env,
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        LOG_LEVEL: 'warn',
        RESIZE_GRPC_ENDPOINT: `127.0.0.1:${procs.resize!.port}`,
        FILTER_GRPC_ENDPOINT: `127.0.0.1:${procs.filter!.port}`,
        ...(procs.detection ? { AI_DETECTION_GRPC_ENDPOINT: `127.0.0.1:${procs.detection.port}` } : {}),
      },
    });
    const base = `http://127.0.0.1:${procs.gateway.port}`;
    log(`stack up: s3 ${s3.kind}, ${Object.entries(procs).map(([n, p]) => `${n} pid ${p!.child.pid}`).join(', ')}`);

    // Inputs: three sizes, three formats, in storage and inline.
    const inputs = [
      { key: 'soak/small.jpg', data: await makePhoto(320, 240, 'jpeg', 1), type: 'image/jpeg' },
      { key: 'soak/medium.png', data: await makePhoto(1024, 768, 'png', 2), type: 'image/png' },
      { key: 'soak/large.jpg', data: await makePhoto(2400, 1600, 'jpeg', 3), type: 'image/jpeg' },
      { key: 'soak/medium.webp', data: await makePhoto(1280, 960, 'webp', 4), type: 'image/webp' },
    ];
    for (const i of inputs) await s3.storage.write({ bucket: 'imageflow', key: i.key }, i.data, i.type);
    const small = inputs[0].data;
    const mixInputs = options.smallInputsOnly ? inputs.filter((i) => i.key !== 'soak/large.jpg') : inputs;

    // The mix (per 20 requests): 8 resize, 4 filter, 3 raw resize, 3 pipeline, 2 detect.
    const mix: Op[] = ['resize', 'filter', 'resize', 'resize-raw', 'pipeline', 'resize', 'filter', 'detect', 'resize', 'resize-raw', 'resize', 'pipeline', 'filter', 'resize', 'resize-raw', 'filter', 'pipeline', 'resize', 'detect', 'resize'];
    const ops: Op[] = options.detect ? mix : mix.map((o) => (o === 'detect' ? 'resize' : o));
    const errorSamples: string[] = [];
    const send = async (i: number, op: Op): Promise<{ status: string; detail?: string }> => {
      const input = mixInputs[i % mixInputs.length];
      const width = 64 + ((i * 37) % 960);
      const json = (path: string, body: unknown) =>
        fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
      let res: Response;
      switch (op) {
        case 'resize':
          res = await json('/v1/resize', { input: { key: input.key }, width, fit: i % 2 ? 'cover' : 'inside', height: i % 2 ? width : undefined });
          break;
        case 'filter':
          res = await json('/v1/filter', { input: { key: input.key }, ops: [{ type: 'blur', intensity: 1 + (i % 3) }, { type: 'brightness', intensity: 1.1 }] });
          break;
        case 'resize-raw':
          res = await fetch(`${base}/v1/resize?width=${Math.min(width, 300)}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: small, signal: AbortSignal.timeout(60_000) });
          break;
        case 'pipeline':
          res = await json('/v1/pipeline', { input: { key: input.key }, steps: [{ op: 'resize', width: Math.min(width, 800) }, { op: 'filter', ops: [{ type: 'sharpen' }, { type: 'grayscale' }] }], output: { format: 'webp' } });
          break;
        case 'detect':
          res = await json('/v1/detect', { input: { key: inputs[0].key } });
          break;
      }
      const body = Buffer.from(await res.arrayBuffer());
      const status = String(res.status);
      if (res.status !== 200) {
        const retryAfter = res.headers.get('retry-after');
        return { status: retryAfter ? `${status}+RA` : status, detail: `${op}: ${body.toString('utf8').slice(0, 300)}` };
      }
      return { status };
    };

    // Memory sampler (runs through both phases).
    const memory: MemorySeries[] = (Object.keys(procs) as ServiceName[]).map((name) => ({ name, limitMiB: MEMORY_LIMIT_MIB[name], samples: [] }));
    const t0 = performance.now();
    let sampling = true;
    let phase: 'sustained' | 'saturation' = 'sustained';
    const satMax: Partial<Record<ServiceName, number>> = {};
    const sampler = (async () => {
      while (sampling) {
        const t = (performance.now() - t0) / 1000;
        for (const m of memory) {
          const v = rssMiB(procs[m.name]!.child.pid);
          if (phase === 'sustained') m.samples.push([t, v]);
          else satMax[m.name] = Math.max(satMax[m.name] ?? 0, v);
        }
        await new Promise((r) => setTimeout(r, phase === 'sustained' ? options.sampleEveryMs : 250));
      }
    })();

    log(`sustained: ${options.ratePerSec}/s for ${Math.round(options.durationMs / 1000)} s`);
    const outcomes = await runLoad({
      concurrency: Math.max(8, Math.ceil(options.ratePerSec * 2)),
      ratePerSec: options.ratePerSec,
      durationMs: options.durationMs,
      task: async (i) => {
        const op = ops[i % ops.length];
        const r = await send(i, op).catch((e: Error) => ({ status: 'THROWN', detail: `${op}: ${e.message}` }));
        if (r.status !== '200' && errorSamples.length < 20) errorSamples.push(r.detail ?? r.status);
        // The outcome's detail names the operation, for the per-operation table.
        return { status: r.status, detail: op };
      },
    });
    const sustainedSeconds = (performance.now() - t0) / 1000;
    const byOp: Record<string, OpStats> = {};
    for (const op of new Set(outcomes.map((t) => t.detail ?? ''))) byOp[op] = stats(outcomes.filter((t) => t.detail === op));
    const total = stats(outcomes);
    const errors = outcomes.filter((o) => o.status !== '200').length;
    log(`sustained done: ${outcomes.length} requests, ${errors} not 200, p99 ${total.p99} ms`);

    let saturation: SoakReport['saturation'];
    if (options.saturationMs > 0) {
      phase = 'saturation';
      const large = inputs[2];
      log(`saturation: ${options.saturationConcurrency} concurrent large resizes for ${Math.round(options.saturationMs / 1000)} s`);
      const unexpected: string[] = [];
      const sat = await runLoad({
        concurrency: options.saturationConcurrency,
        durationMs: options.saturationMs,
        task: async (i) => {
          const res = await fetch(`${base}/v1/resize?width=${1200 + (i % 400)}&fit=inside`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg' },
            body: large.data,
            signal: AbortSignal.timeout(60_000),
          });
          const body = Buffer.from(await res.arrayBuffer());
          const retryAfter = res.headers.get('retry-after');
          if (res.status !== 200 && !((res.status === 503 || res.status === 429) && retryAfter)) {
            if (unexpected.length < 10) unexpected.push(`${res.status} ${body.toString('utf8').slice(0, 200)}`);
          }
          return res.status === 200 ? '200' : `${res.status}${retryAfter ? '+RA' : ''}`;
        },
      });
      saturation = { total: stats(sat), retryAfter: sat.filter((o) => o.status.endsWith('+RA')).length, unexpected };
      log(`saturation done: ${JSON.stringify(saturation.total.statuses)}`);
    }
    sampling = false;
    await sampler;

    // Per-service status codes and libvips high-water marks from their own /metrics.
    const serviceCodes: Record<string, Record<string, number>> = {};
    for (const name of names) {
      const text = await (await fetch(`http://127.0.0.1:${procs[name]!.metricsPort}/metrics`)).text();
      const samples = parsePrometheus(text);
      const codes: Record<string, number> = {};
      for (const s of samples.filter((x) => x.name === 'imageflow_grpc_server_handled_total')) codes[s.labels.code] = (codes[s.labels.code] ?? 0) + s.value;
      serviceCodes[name] = codes;
      const m = memory.find((x) => x.name === name) as { libvipsHighMiB?: number };
      m.libvipsHighMiB = sum(samples, 'imageflow_libvips_tracked_memory_bytes', { kind: 'high' }) / 1024 / 1024;
    }

    const warm = options.warmupMs / 1000;
    const report: SoakReport = {
      s3: s3.kind,
      options: { ...options, log: undefined, serviceEnv: undefined } as Omit<SoakOptions, 'log'>,
      sustained: { total, byOp, achievedRate: Math.round((outcomes.length / sustainedSeconds) * 10) / 10, errors, errorSamples },
      saturation,
      memory: memory.map((m) => {
        const after = m.samples.filter(([t]) => t >= warm);
        const values = m.samples.map(([, v]) => v);
        const r = (v: number) => Math.round(v * 10) / 10;
        return {
          name: m.name,
          limitMiB: m.limitMiB,
          startMiB: r(values[0]),
          afterWarmupMiB: r(after[0]?.[1] ?? NaN),
          maxMiB: r(Math.max(...values)),
          endMiB: r(values[values.length - 1]),
          slopeMiBPerMin: r(slope(after.map(([t, v]) => [t / 60, v] as [number, number]))),
          halvesMiB: [r(mean(after.slice(0, after.length >> 1).map(([, v]) => v))), r(mean(after.slice(after.length >> 1).map(([, v]) => v)))],
          saturationMaxMiB: satMax[m.name] !== undefined ? r(satMax[m.name]!) : undefined,
          libvipsHighMiB: m.libvipsHighMiB !== undefined ? r(m.libvipsHighMiB) : undefined,
        };
      }),
      serviceCodes,
      rssSamples: Object.fromEntries(memory.map((m) => [m.name, m.samples.map(([t, v]) => [Math.round(t), Math.round(v * 10) / 10] as [number, number])])),
    };
    return report;
  } finally {
    await procs.gateway?.stop();
    await Promise.all((['resize', 'filter', 'detection'] as const).map((n) => procs[n]?.stop()));
    await s3.stop();
  }
}

/** The report as Markdown tables, for RELIABILITY.md. */
export function soakMarkdown(r: SoakReport): string {
  const lines: string[] = [];
  const o = r.options;
  lines.push(`Sustained ${o.ratePerSec} req/s for ${Math.round(o.durationMs / 1000)} s (achieved ${r.sustained.achievedRate}/s), S3: ${r.s3}, detect in mix: ${o.detect}.`);
  lines.push('');
  lines.push('| operation | requests | statuses | p50 ms | p95 ms | p99 ms | max ms |');
  lines.push('|---|---:|---|---:|---:|---:|---:|');
  const row = (name: string, s: OpStats) => `| ${name} | ${s.requests} | ${Object.entries(s.statuses).map(([k, v]) => `${k}: ${v}`).join(', ')} | ${s.p50} | ${s.p95} | ${s.p99} | ${s.max} |`;
  for (const [op, s] of Object.entries(r.sustained.byOp)) lines.push(row(op, s));
  lines.push(row('**all**', r.sustained.total));
  if (r.saturation) lines.push(row(`saturation (${o.saturationConcurrency} concurrent, ${Math.round(o.saturationMs / 1000)} s)`, r.saturation.total));
  lines.push('');
  lines.push('| process | limit MiB | RSS start | after warm-up | mean 1st half → 2nd half | max (sustained) | end | trend MiB/min | max under saturation | libvips high MiB |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const m of r.memory) {
    lines.push(`| ${m.name} | ${m.limitMiB} | ${m.startMiB} | ${m.afterWarmupMiB} | ${m.halvesMiB[0]} → ${m.halvesMiB[1]} | ${m.maxMiB} | ${m.endMiB} | ${m.slopeMiBPerMin} | ${m.saturationMaxMiB ?? '-'} | ${m.libvipsHighMiB ?? '-'} |`);
  }
  return lines.join('\n');
}
