// `npm run bench` (add `-- --quick` for the CI smoke): every measurement of issue 9 in one run,
// side by side on this machine, printed as tables with a PASS/MISS line per target and written
// to bench/results/latest.json (quick: bench/results/quick.json).
//
//   1. per-hop cost of one resize (bench/gateway.ts)      4. peak RSS per service, 24 MP inputs
//   2. the seed pipeline (a) in-process … (d) runner      5. compile + synth of 10/100/1000 pipelines
//   3. the seed's "before": a Node process per step        6. imgproxy, when it is on PATH
//                                                          7. thread-pool sizing (full run only)
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { runHopCost, type HopCostRow } from './hop-cost.js';
import { findImgproxy, IMGPROXY_BUILD, imgproxyStats, startImgproxy } from './imgproxy.js';
import { callResize, clients, output, seedRequests, source } from './lib/grpc.js';
import { closeHttp, postImage } from './lib/http.js';
import { startDetector } from './lib/inprocess.js';
import { fmtMs, fmtPct, fmtX, load, median, type Stats } from './lib/measure.js';
import { PHOTO_DIR, photos, type Photo, type PhotoName } from './lib/photos.js';
import { table, targetLine, type Target } from './lib/report.js';
import { startBenchStack, type BenchStack } from './lib/stack.js';
import { runMemoryBench, type MemoryRow } from './memory.js';
import { fusedGatewayCall, runPipelineBench, type PipelineRow } from './pipeline.js';
import { podPerStepRun, type ColdRun } from './pod-per-step.js';
import type { SynthRow } from './synth.js';
import { runTuningBench, type TuningRow } from './tuning.js';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = fileURLToPath(new URL(`./results/${QUICK ? 'quick' : 'latest'}.json`, import.meta.url));
/** Hard stop: the bench never runs away. */
const HARD_LIMIT_MS = QUICK ? 5 * 60_000 : 20 * 60_000;

/** Stops whatever is still running when the watchdog fires. */
const cleanups: Array<() => Promise<unknown> | undefined> = [];

const MEMORY_LIMITS = { requestMiB: 512, limitMiB: 1024 };

const log = (s = '') => process.stdout.write(`${s}\n`);
const sh = (cmd: string, a: string[]) => {
  try {
    return execFileSync(cmd, a, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};

function machine() {
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model ?? '?';
  return {
    date: new Date().toISOString(),
    commit: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    nproc: Number(sh('nproc', [])) || cpus().length,
    cpuModel,
    memory: sh('free', ['-h']).split('\n')[1]?.replace(/\s+/g, ' ') ?? `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    freeMemGiB: freemem() / 2 ** 30,
    node: process.version,
    sharp: sharp.versions.sharp,
    libvips: sharp.versions.vips,
    sharpConcurrency: sharp.concurrency(),
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    loadAverageAtStart: loadavg(),
  };
}

const statsRow = (s: Stats, base?: Stats) => [
  s.label,
  s.concurrency,
  s.n,
  fmtMs(s.p50),
  fmtMs(s.p99),
  s.rps.toFixed(2),
  base ? fmtX(s.p50 / base.p50) : '',
  s.errors ? `${s.errors} (${s.firstError?.slice(0, 60)})` : '0',
];
const STATS_HEAD = ['what', 'conc', 'n', 'p50 ms', 'p99 ms', 'req/s', 'p50 ÷ (a)', 'errors'];

/** Section 1 comes from bench/gateway.ts (the gateway's per-hop comparison), reused as it is. */
type RunGatewayBench = (options: { quick?: boolean; photos?: Partial<Record<PhotoName, Photo>>; log?: (line: string) => void }) => Promise<{ results: unknown; targets: Target[] }>;

async function perHop(ph: Record<PhotoName, Photo>): Promise<{ results: unknown; targets: Target[] }> {
  // Imported by name at run time, so this file type-checks whatever shape that file is in.
  const modulePath = './gateway.js';
  const mod = (await import(modulePath)) as { runGatewayBench?: RunGatewayBench };
  if (typeof mod.runGatewayBench !== 'function') throw new Error('bench/gateway.ts does not export runGatewayBench');
  return mod.runGatewayBench({ quick: QUICK, photos: ph, log });
}

async function main(): Promise<void> {
  const started = performance.now();
  const info = machine();
  log(`imageflow benchmark${QUICK ? ' (--quick)' : ''} — ${info.date}, commit ${info.commit}`);
  log(`machine: ${info.nproc} CPUs (${info.cpuModel}), ${info.memory}, Node ${info.node}, sharp ${info.sharp} / libvips ${info.libvips}`);
  log(`load average at start: ${info.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);

  const names: PhotoName[] = ['0.3mp.jpg', '2mp.jpg', '12mp.jpg', '24mp.jpg', '2mp.png', '2mp.webp'];
  const t0 = performance.now();
  const ph = await photos(names);
  log(`photos (${PHOTO_DIR}): ${names.map((n) => `${n} ${(ph[n].data.length / 1e6).toFixed(1)} MB`).join(', ')} — ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const targets: Target[] = [];
  const results: Record<string, unknown> = { machine: info, quick: QUICK };

  // ── 1. Per-hop cost (the gateway engineer's comparison, reused) ──────────────────────────────
  log('\n## 1. Per-hop cost of one resize (bench/gateway.ts)');
  try {
    const hops = await perHop(ph);
    results.perHop = hops.results;
    targets.push(...hops.targets);
  } catch (err) {
    log(`per-hop section failed: ${(err as Error).stack ?? err}`);
    results.perHopError = String(err);
  }

  // ── The stack for sections 2–4 ───────────────────────────────────────────────────────────────
  log('\nstarting S3, resize, filter, detection and gateway on loopback …');
  let stack: BenchStack | undefined;
  cleanups.push(() => stack?.stop());
  const detectorPromise = startDetector();
  try {
    const ts = performance.now();
    stack = await startBenchStack();
    log(`stack ready in ${((performance.now() - ts) / 1000).toFixed(1)} s (S3: ${stack.s3.kind}; ports ${JSON.stringify(stack.ports)})`);
    const keys: Partial<Record<PhotoName, string>> = {};
    for (const n of names) {
      keys[n] = `bench/in/${n}`;
      await stack.put(keys[n]!, ph[n].data, `image/${ph[n].format}`);
    }
    const detector = await detectorPromise;

    // ── 2. Pipeline ────────────────────────────────────────────────────────────────────────────
    log('\n## 2. Pipeline resize → detect → filter (pipelines/resize-detect-filter.ts)');
    const pipelinePhotos: PhotoName[] = QUICK ? ['2mp.jpg'] : ['2mp.jpg', '12mp.jpg'];
    const pipeline: PipelineRow[] = await runPipelineBench({
      gateway: stack.gatewayUrl!,
      detector,
      photos: pipelinePhotos.map((n) => ({ photo: ph[n], key: keys[n]! })),
      iterations: QUICK ? 3 : 10,
    });
    results.pipeline = pipeline;
    for (const r of pipeline) {
      const a = r.inProcess;
      log(`\n${r.photo}: in-process steps p50 resize ${fmtMs(r.steps.resize.p50)} + detect ${fmtMs(r.steps.detect.p50)} + filter ${fmtMs(r.steps.filter.p50)} = ${fmtMs(r.sumOfStepsP50)} ms`);
      const rows = [a, r.threeCalls, r.fused, r.runnerFused, r.runnerUnfused].filter((s): s is Stats => Boolean(s));
      log(table(STATS_HEAD, rows.map((s) => statsRow(s, a))));
      if (r.runnerError) log(`(d) local runner: ${r.runnerError}`);
      log(`communication inside one fused call (HTTP hop + gateway + 3 gRPC hops), median: ${fmtMs(r.fusedOverheadMs)} ms`);
      targets.push({
        id: `fused-vs-sum-${r.photo}`,
        description: `fused /v1/pipeline p50 ÷ sum of in-process step p50s, ${r.photo}`,
        measured: fmtX(r.fused.p50 / r.sumOfStepsP50),
        bar: '≤ 1.2×',
        pass: r.fused.p50 / r.sumOfStepsP50 <= 1.2,
      });
    }

    // ── 1b. CPU per request in the gateway and the resize service ─────────────────────────────
    log('\n## 1b. CPU time per resize request: gateway process vs resize service (concurrency 4)');
    const hopCost: HopCostRow[] = await runHopCost(
      stack,
      (['0.3mp.jpg', '2mp.jpg', '12mp.jpg'] as const).map((n) => ({ photo: ph[n], key: keys[n]! })),
      QUICK,
    );
    results.hopCost = hopCost;
    log(
      table(
        ['mode', 'photo', 'requests', 'gateway CPU ms/req', 'resize CPU ms/req', 'gateway share', 'p50 ms'],
        hopCost.map((h) => [h.mode, h.photo, h.requests, fmtMs(h.gatewayCpuMs), fmtMs(h.resizeCpuMs), fmtPct(h.gatewayCpuMs / (h.gatewayCpuMs + h.resizeCpuMs)), fmtMs(h.p50Ms)]),
      ),
    );

    // ── 3. The seed's "before": a process per step ─────────────────────────────────────────────
    log('\n## 3. The seed\'s "before": a fresh Node process per step (spawn → load → read → process → write → exit)');
    const coldPhoto: PhotoName = '2mp.jpg';
    const coldRuns: ColdRun[] = [];
    // The fused calls the ratio divides by are made between the cold runs, not taken from section
    // 2: this machine's speed drifts over a run, and both sides should see the same stretch of it.
    const fusedNearby: number[] = [];
    const fusedCalls = async (n: number) => {
      for (let j = 0; j < n; j++) {
        const t0 = performance.now();
        await fusedGatewayCall(stack!.gatewayUrl!, keys[coldPhoto]!);
        fusedNearby.push(performance.now() - t0);
      }
    };
    const coldRunCount = QUICK ? 1 : 3;
    for (let i = 0; i < coldRunCount; i++) {
      await fusedCalls(QUICK ? 2 : 4);
      coldRuns.push(await podPerStepRun(stack.storageEnv, keys[coldPhoto]!));
    }
    await fusedCalls(QUICK ? 2 : 4);
    const coldTotal = median(coldRuns.map((r) => r.totalMs));
    const fusedP50 = median(fusedNearby);
    const fusedRow = pipeline.find((r) => r.photo === coldPhoto)!;
    const stepNames = coldRuns[0].steps.map((s) => s.step);
    log(
      table(
        ['step (median of runs)', 'spawn → READY ms', 'READY → answered ms', 'exit ms', 'total ms'],
        stepNames.map((name, i) => {
          const m = (f: 'startMs' | 'callMs' | 'exitMs' | 'totalMs') => fmtMs(median(coldRuns.map((r) => r.steps[i][f])));
          return [name, m('startMs'), m('callMs'), m('exitMs'), m('totalMs')];
        }),
      ),
    );
    const ratio = coldTotal / fusedP50;
    log(
      `process per step: ${fmtMs(coldTotal)} ms (median of ${coldRuns.length}) vs fused /v1/pipeline p50 ${fmtMs(fusedP50)} ms ` +
        `(${fusedNearby.length} calls between the cold runs; section 2's p50 was ${fmtMs(fusedRow.fused.p50)} ms) → ${fmtX(ratio)}`,
    );
    results.podPerStep = {
      photo: coldPhoto,
      runs: coldRuns,
      medianTotalMs: coldTotal,
      fusedP50Ms: fusedP50,
      fusedSamplesMs: fusedNearby,
      ratio,
      threeCallsRatio: coldTotal / fusedRow.threeCalls.p50,
    };
    targets.push({
      id: 'pod-per-step-ratio',
      description: `process-per-step ÷ fused pipeline, ${coldPhoto}`,
      measured: fmtX(ratio),
      bar: '≥ 20×',
      pass: ratio >= 20,
      note: `${fmtMs(coldTotal)} ms vs ${fmtMs(fusedP50)} ms; Kubernetes scheduling and image pulls not included`,
    });

    // ── 4. Memory ──────────────────────────────────────────────────────────────────────────────
    log('\n## 4. Peak resident memory per service process, 24 MP JPEG inputs (VmHWM, reset before each level)');
    const levels = QUICK ? [{ concurrency: 8, calls: 8 }] : [{ concurrency: 1, calls: 2 }, { concurrency: 8, calls: 8 }, { concurrency: 16, calls: 16 }];
    // --quick leaves out the filter service, the slowest on 24 MP inputs (about 20 s at c8).
    const memoryServices = QUICK ? (['resize', 'detection', 'gateway'] as const) : (['resize', 'filter', 'detection', 'gateway'] as const);
    const memory: MemoryRow[] = await runMemoryBench({ stack, key: keys['24mp.jpg']!, data: ph['24mp.jpg'].data, levels, services: memoryServices });
    results.memory = memory;
    log(
      table(
        ['service', 'conc', 'calls', 'idle MiB', 'peak MiB', 'p50 ms', 'errors'],
        memory.map((m) => [m.service, m.concurrency, m.calls, m.idleMiB.toFixed(0), m.peakMiB.toFixed(0), fmtMs(m.p50Ms), m.errors ? `${m.errors} (${m.firstError?.slice(0, 60)})` : '0']),
      ),
    );
    for (const service of [...new Set(memory.map((m) => m.service))]) {
      const rows = memory.filter((m) => m.service === service);
      const at8 = rows.find((m) => m.concurrency === 8);
      if (at8) {
        targets.push({
          id: `memory-c8-${service}`,
          description: `${service} peak RSS at concurrency 8, 24 MP`,
          measured: `${at8.peakMiB.toFixed(0)} MiB`,
          bar: `< ${MEMORY_LIMITS.requestMiB} MiB (request)`,
          pass: at8.peakMiB < MEMORY_LIMITS.requestMiB && at8.errors === 0,
        });
      }
      const worst = rows.reduce((a, b) => (b.peakMiB > a.peakMiB ? b : a));
      targets.push({
        id: `memory-max-${service}`,
        description: `${service} peak RSS at any measured concurrency (${rows.map((r) => r.concurrency).join('/')})`,
        measured: `${worst.peakMiB.toFixed(0)} MiB at c${worst.concurrency}`,
        bar: `≤ ${MEMORY_LIMITS.limitMiB} MiB (limit)`,
        pass: worst.peakMiB <= MEMORY_LIMITS.limitMiB,
      });
    }

    // ── 6. Peer: imgproxy ──────────────────────────────────────────────────────────────────────
    log('\n## 6. Peer: imgproxy');
    const bin = findImgproxy();
    if (!bin) {
      log(`SKIP: no imgproxy binary on PATH (or IMGPROXY_BIN). Build it with:\n  ${IMGPROXY_BUILD}\n(see BENCHMARKS.md for what happened when we tried on this machine)`);
      results.imgproxy = { skipped: 'no imgproxy binary on PATH' };
      targets.push({ id: 'imgproxy-gateway', description: 'gateway raw resize throughput ÷ imgproxy, c8', measured: '–', bar: '≥ 90%', pass: undefined, note: 'imgproxy not on PATH' });
      targets.push({ id: 'imgproxy-grpc', description: 'gRPC resize service throughput ÷ imgproxy, c8', measured: '–', bar: '≥ 100%', pass: undefined, note: 'imgproxy not on PATH' });
    } else {
      const proxy = await startImgproxy(bin, PHOTO_DIR);
      const c = clients({ resize: stack.ports.resize });
      try {
        const rows: Record<string, Stats>[] = [];
        for (const n of ['2mp.jpg', '12mp.jpg'] as const) {
          const iterations = QUICK ? 16 : 48;
          const imgp = await imgproxyStats(proxy, n, 8, iterations);
          const gw = await load({ label: `gateway raw ${n} c8`, concurrency: 8, iterations }, () => postImage(`${stack!.gatewayUrl}/v1/resize?width=1024`, ph[n].data));
          const grpcDirect = await load({ label: `gRPC resize ${n} c8`, concurrency: 8, iterations }, () =>
            callResize(c.resize!, seedRequests.resize(source.inline(ph[n].data), output.inline())),
          );
          rows.push({ imgp, gw, grpcDirect });
          log(table(STATS_HEAD, [statsRow(imgp), statsRow(gw, imgp), statsRow(grpcDirect, imgp)]));
          targets.push({ id: `imgproxy-gateway-${n}`, description: `gateway raw resize throughput ÷ imgproxy, c8, ${n}`, measured: fmtPct(gw.rps / imgp.rps), bar: '≥ 90%', pass: gw.rps / imgp.rps >= 0.9 });
          targets.push({ id: `imgproxy-grpc-${n}`, description: `gRPC resize service throughput ÷ imgproxy, c8, ${n}`, measured: fmtPct(grpcDirect.rps / imgp.rps), bar: '≥ 100%', pass: grpcDirect.rps >= imgp.rps });
        }
        results.imgproxy = { bin, rows };
      } finally {
        c.close();
        await proxy.stop();
      }
    }
    await detector.close();
  } finally {
    await stack?.stop();
    await detectorPromise.then((d) => d.close()).catch(() => undefined);
  }

  // ── 7. Thread-pool sizing (the resize service alone, one configuration at a time) ───────────
  if (!QUICK) {
    log('\n## 7. Thread-pool sizing: the resize service under different libvips/libuv/call-limit settings (gRPC, inline)');
    const tuning: TuningRow[] = await runTuningBench([ph['2mp.jpg'], ph['12mp.jpg']], QUICK);
    results.tuning = tuning;
    log(
      table(
        ['configuration', 'photo', 'c1 p50 ms', 'c1 req/s', 'c8 p50 ms', 'c8 req/s', 'c8 req/s ÷ defaults'],
        tuning.map((r) => {
          const base = tuning.find((b) => b.photo === r.photo)!;
          return [r.config, r.photo, fmtMs(r.c1.p50), r.c1.rps.toFixed(2), fmtMs(r.c8.p50), r.c8.rps.toFixed(2), fmtPct(r.c8.rps / base.c8.rps)];
        }),
      ),
    );
  }

  // ── 5. Synthesis (its own process: no services competing, its own JIT state) ────────────────
  log('\n## 5. Compile + synth of generated pipelines (fresh process, after a 100-pipeline warm-up)');
  const sizes = QUICK ? [10, 100, 1000] : [10, 100, 1000];
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./synth.ts', import.meta.url)), ...sizes.map(String)], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) {
    log(`synthesis failed: ${child.stderr.slice(-1000)}`);
    results.synthError = child.stderr.slice(-1000);
  } else {
    const synth = JSON.parse(child.stdout.trim().split('\n').pop()!) as SynthRow[];
    results.synth = synth;
    log(
      table(
        ['layout', 'pipelines', 'define ms', 'compile ms', 'synth ms', 'total ms', 'ms / pipeline', 'files'],
        synth.map((s) => [s.layout, s.pipelines, fmtMs(s.defineMs), fmtMs(s.compileMs), fmtMs(s.synthMs), fmtMs(s.totalMs), fmtMs(s.perPipelineMs), s.files]),
      ),
    );
    for (const layout of ['chart-per-pipeline', 'one-chart'] as const) {
      const s100 = synth.find((s) => s.layout === layout && s.pipelines === 100);
      const s1000 = synth.find((s) => s.layout === layout && s.pipelines === 1000);
      if (!s100 || !s1000) continue;
      const r = s1000.totalMs / s100.totalMs;
      if (layout === 'one-chart') {
        targets.push({ id: 'synth-linear', description: 'synth time of 1,000 pipelines ÷ 100 (addPipelines: one chart)', measured: fmtX(r), bar: '≤ 11×', pass: r <= 11 });
      } else {
        log(`a chart per pipeline (PipelineChart, the layout before): 1,000 ÷ 100 = ${fmtX(r)}, ${fmtMs(s1000.totalMs)} ms for 1,000`);
      }
    }
  }

  // ── Targets ──────────────────────────────────────────────────────────────────────────────────
  log('\n## Targets');
  for (const t of targets) log(targetLine(t));
  const elapsed = (performance.now() - started) / 1000;
  results.targets = targets;
  results.elapsedSeconds = elapsed;
  results.loadAverageAtEnd = loadavg();
  mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify(results, null, 2)}\n`);
  log(`\n${targets.filter((t) => t.pass === true).length} pass, ${targets.filter((t) => t.pass === false).length} miss, ${targets.filter((t) => t.pass === undefined).length} skipped — ${elapsed.toFixed(0)} s; results in ${OUT}`);
}

const watchdog = setTimeout(() => {
  process.stderr.write(`bench: still running after ${HARD_LIMIT_MS / 60_000} min; stopping\n`);
  const deadline = new Promise((r) => setTimeout(r, 10_000));
  void Promise.race([Promise.allSettled(cleanups.map((c) => c())), deadline]).finally(() => process.exit(2));
}, HARD_LIMIT_MS);
watchdog.unref();

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    closeHttp();
    clearTimeout(watchdog);
    // Nothing of ours should still run; do not wait for stray handles of libraries.
    setTimeout(() => process.exit(), 500).unref();
  });

export type { Photo };
