// Section 5: compile and synthesize 10, 100 and 1,000 generated pipelines with the DSL's own API
// (definePipeline → Pipeline.compile → cdk8s App → addPipelines → YAML files), and report the time
// per pipeline and the 1,000/100 ratio (linear means ≈ 10×). The main layout is what addPipelines
// (and so main.ts) produces; a chart per pipeline is measured next to it for comparison.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'cdk8s';
import { PipelineChart, addPipelines, definePipeline, param, type Pipeline } from '../constructs/pipeline/index.js';

/** Pipeline i: the seed's resize → detect → filter chain, plus (every other one) a thumbnail branch and a conditional blur. */
export function generatedPipeline(i: number): Pipeline {
  return definePipeline(
    {
      name: `generated-${String(i).padStart(4, '0')}`,
      description: `Generated pipeline ${i} for the synthesis benchmark`,
      params: {
        image: param.objectKey({ description: 'Object key of the input image', default: `bench/in-${i}.jpg` }),
        width: param.number({ description: 'Target width in pixels', default: 256 + (i % 1024) }),
      },
    },
    (p, { image, width }) => {
      const resized = p.resize('resize', { input: image, width, fit: 'inside', withoutEnlargement: true });
      const found = p.detect('detect', { input: resized.image, confidenceThreshold: 0.3 + (i % 5) / 10 });
      const sharpened = p.filter('sharpen', { input: found.image, ops: [{ type: 'sharpen', intensity: 1 + (i % 3) / 2 }] });
      p.output('result', sharpened);
      if (i % 2 === 1) {
        const thumb = p.resize('thumb', { input: image, width: 128, height: 128, fit: 'cover', output: { format: 'webp', quality: 80 } });
        p.output('thumb', thumb);
        const blurred = p.filter(
          'blur-people',
          { input: image, ops: [{ type: 'blur', intensity: 20 }] },
          { when: found.detections.any({ labels: ['person'], minConfidence: 0.5 }) },
        );
        p.output('blurred', blurred);
      }
    },
  );
}

export interface SynthRow {
  readonly layout: SynthLayout;
  readonly pipelines: number;
  /** definePipeline (DSL + checks) */
  readonly defineMs: number;
  /** Pipeline.compile() of each (plain objects) */
  readonly compileMs: number;
  /** cdk8s App + the layout's charts + app.synth() writing YAML (compiles again inside) */
  readonly synthMs: number;
  readonly totalMs: number;
  readonly perPipelineMs: number;
  readonly files: number;
}

/**
 * `one-chart` is what `addPipelines` does: every WorkflowTemplate in one chart, one file.
 * `chart-per-pipeline` gives each its own `PipelineChart` (one file each): cdk8s resolves
 * dependencies and validates the whole app once per chart, so it costs O(charts²), one chart O(n).
 */
export type SynthLayout = 'one-chart' | 'chart-per-pipeline';

export function synthOnce(n: number, layout: SynthLayout = 'one-chart'): SynthRow {
  const outdir = mkdtempSync(join(tmpdir(), 'imageflow-bench-synth-'));
  try {
    const t0 = performance.now();
    const pipelines = Array.from({ length: n }, (_, i) => generatedPipeline(i));
    const t1 = performance.now();
    for (const p of pipelines) p.compile();
    const t2 = performance.now();
    const app = new App({ outdir, recordConstructMetadata: false });
    if (layout === 'one-chart') addPipelines(app, pipelines);
    else for (const p of pipelines) new PipelineChart(app, p);
    app.synth();
    const t3 = performance.now();
    const files = readdirSync(outdir).filter((f) => f.endsWith('.yaml')).length;
    const totalMs = t3 - t0;
    return { layout, pipelines: n, defineMs: t1 - t0, compileMs: t2 - t1, synthMs: t3 - t2, totalMs, perPipelineMs: totalMs / n, files };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export function runSynthBench(sizes: readonly number[], layouts: readonly SynthLayout[] = ['one-chart', 'chart-per-pipeline']): SynthRow[] {
  // Warm-up: module loading and JIT are not per-pipeline costs (100 pipelines: with 10, the code
  // paths of the larger runs were still being optimised during the 100-pipeline measurement).
  for (const layout of layouts) synthOnce(100, layout);
  // The median of a few runs per size (1,000 one-chart runs take ~1.5 s each), the sizes taking
  // turns: a 100-pipeline run lasts ~150 ms, and this machine's speed drifts by more than the
  // ratio's margin over a few seconds, so sizes measured one after the other read a drift.
  const repeats = (n: number, layout: SynthLayout) => (n <= 100 ? 5 : layout === 'one-chart' ? 3 : 1);
  return layouts.flatMap((layout) => {
    const runs = new Map(sizes.map((n) => [n, [] as SynthRow[]]));
    const turns = Math.max(...sizes.map((n) => repeats(n, layout)));
    for (let turn = 0; turn < turns; turn++) {
      for (const n of sizes) if (turn < repeats(n, layout)) runs.get(n)!.push(synthOnce(n, layout));
    }
    return sizes.map((n) => {
      const sorted = runs.get(n)!.sort((a, b) => a.totalMs - b.totalMs);
      return sorted[Math.floor(sorted.length / 2)];
    });
  });
}

// Standalone: `npx tsx bench/synth.ts 10 100 1000` prints JSON (last line); `--layout one-chart`
// measures only that layout, `--table` also prints a readable summary to stderr.
if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--layout');
  const layouts = at >= 0 ? [args[at + 1] as SynthLayout] : undefined;
  const sizes = args.filter((a, i) => i !== at + 1 || at < 0).map(Number).filter((n) => n > 0);
  const rows = runSynthBench(sizes.length ? sizes : [10, 100, 1000], layouts);
  if (args.includes('--table')) {
    for (const r of rows) process.stderr.write(`${r.layout.padEnd(18)} ${String(r.pipelines).padStart(5)} pipelines  ${r.totalMs.toFixed(0).padStart(7)} ms  ${r.perPipelineMs.toFixed(2)} ms/pipeline  ${r.files} file(s)\n`);
    for (const layout of new Set(rows.map((r) => r.layout))) {
      const at100 = rows.find((r) => r.layout === layout && r.pipelines === 100);
      const at1000 = rows.find((r) => r.layout === layout && r.pipelines === 1000);
      if (at100 && at1000) process.stderr.write(`${layout}: 1,000 ÷ 100 = ${(at1000.totalMs / at100.totalMs).toFixed(1)}×\n`);
    }
  }
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}
