// Section 2: the seed pipeline (resize → detect → filter, pipelines/resize-detect-filter.ts) run
// (a) in-process, (b) as three gateway calls with storage between them, (c) as one fused
// /v1/pipeline call, (d) by the local runner executing the compiled WorkflowTemplate, with
// fusion on (one HTTP step) and off (three HTTP steps).
import { runWorkflow } from '../cli/runner/executor.js';
import type { WorkflowTemplateObject } from '../cli/runner/types.js';
import { resizeDetectFilter } from '../pipelines/resize-detect-filter.js';
import { postJson } from './lib/http.js';
import { filterInProcess, resizeInProcess, seedPipelineInProcess, type InProcessDetector } from './lib/inprocess.js';
import { interleaved, median, summarize, timeEach, type Stats } from './lib/measure.js';
import type { Photo } from './lib/photos.js';

export interface PipelineRow {
  readonly photo: string;
  /** (a) each step alone, in-process */
  readonly steps: { resize: Stats; detect: Stats; filter: Stats };
  /** Sum of the in-process step p50s: the bar for the fused pipeline. */
  readonly sumOfStepsP50: number;
  /** (a) the whole chain in-process */
  readonly inProcess: Stats;
  /** (b) three gateway JSON calls, storage between them */
  readonly threeCalls: Stats;
  /** (c) one /v1/pipeline call */
  readonly fused: Stats;
  /** Communication cost inside each fused call (HTTP hop + gateway + gRPC hops), median. */
  readonly fusedOverheadMs: number;
  /** (d) the local runner, fused template (one HTTP step) */
  readonly runnerFused?: Stats;
  /** (d) the local runner, unfused template (three HTTP steps) */
  readonly runnerUnfused?: Stats;
  readonly runnerError?: string;
}

interface JsonOutput {
  output: { bucket?: string; key?: string };
}

export const SEED_STEPS = [
  { op: 'resize', width: 1024, fit: 'inside', withoutEnlargement: true },
  { op: 'detect', confidenceThreshold: 0.4 },
  { op: 'filter', ops: [{ type: 'sharpen', intensity: 1.2 }] },
] as const;

export async function threeGatewayCalls(gateway: string, key: string): Promise<string> {
  const resized = await postJson<JsonOutput>(`${gateway}/v1/resize`, { input: { key }, width: 1024, fit: 'inside', withoutEnlargement: true });
  const input = { key: resized.output.key! };
  await postJson(`${gateway}/v1/detect`, { input, confidenceThreshold: 0.4 });
  const filtered = await postJson<JsonOutput>(`${gateway}/v1/filter`, { input, ops: [{ type: 'sharpen', intensity: 1.2 }] });
  return filtered.output.key!;
}

interface PipelineAnswer extends JsonOutput {
  steps: Array<{ op: string; timings: Record<string, number> }>;
  timings: Record<string, number>;
}

/**
 * One fused call. `overheadMs` is what communication cost it: the client's wall time minus the
 * gateway's own total, plus for every step the gateway's upstream time minus the service's own
 * total (the gRPC hop, serialization, queueing): the seed's "20–50 ms per call" measured.
 */
export async function fusedGatewayCall(gateway: string, key: string): Promise<{ key: string; overheadMs: number }> {
  const t0 = performance.now();
  const res = await postJson<PipelineAnswer>(`${gateway}/v1/pipeline`, { input: { key }, steps: SEED_STEPS });
  const wall = performance.now() - t0;
  const hops = res.steps.reduce((sum, s) => sum + Math.max(0, (s.timings.upstreamMs ?? 0) - (s.timings.totalMs ?? 0)), 0);
  return { key: res.output.key!, overheadMs: wall - (res.timings.totalMs ?? wall) + hops };
}

export async function runPipelineBench(options: {
  gateway: string;
  detector: InProcessDetector;
  photos: readonly { photo: Photo; key: string }[];
  iterations: number;
}): Promise<PipelineRow[]> {
  const { gateway, detector, iterations } = options;
  const rows: PipelineRow[] = [];
  const templates = {
    fused: resizeDetectFilter.compile({ gatewayUrl: gateway, fusion: true }) as unknown as WorkflowTemplateObject,
    unfused: resizeDetectFilter.compile({ gatewayUrl: gateway, fusion: false }) as unknown as WorkflowTemplateObject,
  };
  for (const { photo, key } of options.photos) {
    const n = iterations;
    const resized = await resizeInProcess(photo.data);
    const overheads: number[] = [];
    const cases = [
      ['in-process resize', () => resizeInProcess(photo.data)],
      ['in-process detect', () => detector.detect(resized)],
      ['in-process filter', () => filterInProcess(resized)],
      ['(a) in-process chain', () => seedPipelineInProcess(detector, photo.data)],
      ['(b) three gateway calls', () => threeGatewayCalls(gateway, key)],
      ['(c) one /v1/pipeline call', async () => overheads.push((await fusedGatewayCall(gateway, key)).overheadMs)],
    ] as const;
    for (const [, fn] of cases) await fn(); // warm-up
    overheads.length = 0;
    // The cases take turns call by call: the fused call and the steps it is compared with are
    // measured over the same seconds, so a drift in this machine's speed reaches them alike.
    const [resizeStep, detectStep, filterStep, inProcess, threeCalls, fused] = await interleaved(cases, n, 240_000);
    const steps = { resize: resizeStep, detect: detectStep, filter: filterStep };
    let runnerFused: Stats | undefined;
    let runnerUnfused: Stats | undefined;
    let runnerError: string | undefined;
    try {
      for (const [which, template] of Object.entries(templates)) {
        const runOnce = async () => {
          const run = await runWorkflow(template, { parameters: { image: key, width: '1024' } });
          if (run.phase !== 'Succeeded') throw new Error(`workflow ${run.phase}: ${run.message ?? ''}`);
        };
        await runOnce(); // warm-up
        const samples = await timeEach(n, runOnce);
        const stats = summarize(`(d) local runner, ${which}`, 1, samples, samples.reduce((a, b) => a + b, 0));
        if (which === 'fused') runnerFused = stats;
        else runnerUnfused = stats;
      }
    } catch (err) {
      runnerError = (err as Error).message;
    }
    rows.push({
      photo: photo.name,
      steps,
      sumOfStepsP50: steps.resize.p50 + steps.detect.p50 + steps.filter.p50,
      inProcess,
      threeCalls,
      fused,
      fusedOverheadMs: median(overheads.slice(1)),
      runnerFused,
      runnerUnfused,
      runnerError,
    });
  }
  return rows;
}
