// Section 5: compile and synthesize 10, 100 and 1,000 generated pipelines with the DSL's own API
// (definePipeline → Pipeline.compile → cdk8s App with one PipelineChart each → YAML files), and
// report the time per pipeline and the 1,000/100 ratio (linear means ≈ 10×), for two chart layouts.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart, YamlOutputType } from 'cdk8s';
import { PipelineTemplate, addPipelines, definePipeline, param, type Pipeline } from '../constructs/pipeline/index.js';

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
  /** cdk8s App + one chart per pipeline + app.synth() writing YAML (compiles again inside) */
  readonly synthMs: number;
  readonly totalMs: number;
  readonly perPipelineMs: number;
  readonly files: number;
}

/**
 * `chart-per-pipeline` is what `addPipelines` does (one chart, one file per pipeline).
 * `one-chart` puts every WorkflowTemplate in a single chart, one file per resource: cdk8s
 * resolves dependencies and validates the whole app once per chart, so the first layout costs
 * O(charts²) and the second O(n).
 */
export type SynthLayout = 'chart-per-pipeline' | 'one-chart';

export function synthOnce(n: number, layout: SynthLayout = 'chart-per-pipeline'): SynthRow {
  const outdir = mkdtempSync(join(tmpdir(), 'imageflow-bench-synth-'));
  try {
    const t0 = performance.now();
    const pipelines = Array.from({ length: n }, (_, i) => generatedPipeline(i));
    const t1 = performance.now();
    for (const p of pipelines) p.compile();
    const t2 = performance.now();
    const app =
      layout === 'chart-per-pipeline'
        ? new App({ outdir, recordConstructMetadata: false })
        : new App({ outdir, recordConstructMetadata: false, yamlOutputType: YamlOutputType.FILE_PER_RESOURCE });
    if (layout === 'chart-per-pipeline') addPipelines(app, pipelines);
    else {
      const chart = new Chart(app, 'pipelines', { disableResourceNameHashes: true });
      for (const p of pipelines) new PipelineTemplate(chart, p.name, p);
    }
    app.synth();
    const t3 = performance.now();
    const files = readdirSync(outdir).filter((f) => f.endsWith('.yaml')).length;
    const totalMs = t3 - t0;
    return { layout, pipelines: n, defineMs: t1 - t0, compileMs: t2 - t1, synthMs: t3 - t2, totalMs, perPipelineMs: totalMs / n, files };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export function runSynthBench(sizes: readonly number[], layouts: readonly SynthLayout[] = ['chart-per-pipeline', 'one-chart']): SynthRow[] {
  for (const layout of layouts) synthOnce(10, layout); // warm-up: module loading and JIT are not per-pipeline costs
  // Small runs are short enough to be disturbed by one GC: the median of a few.
  const repeats = (n: number) => (n <= 10 ? 5 : n <= 100 ? 3 : 1);
  return layouts.flatMap((layout) =>
    sizes.map((n) => {
      const runs = Array.from({ length: repeats(n) }, () => synthOnce(n, layout)).sort((a, b) => a.totalMs - b.totalMs);
      return runs[Math.floor(runs.length / 2)];
    }),
  );
}

// Standalone: `npx tsx bench/synth.ts 10 100 1000` prints JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  process.stdout.write(`${JSON.stringify(runSynthBench(sizes.length ? sizes : [10, 100, 1000]))}\n`);
}
