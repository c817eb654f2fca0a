// `imageflow graph`: the compiled DAG as mermaid text, SVG or PNG.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { usageError } from '../exit-codes.js';
import type { WorkflowTemplateObject } from '../runner/types.js';

export function registerGraph(program: Command): void {
  program
    .command('graph')
    .description('Draw a pipeline: parameters, steps (fused groups), fan-out, conditions, outputs, exit handler')
    .argument('<pipeline>', 'an example pipeline name, a .ts module or a .json document')
    .option('-f, --format <format>', 'mermaid, svg or png', 'mermaid')
    .option('-o, --output <file>', 'write to a file (required for png unless stdout is redirected)')
    .option('--fusion <on|off>', "override the pipeline's fusion switch")
    .addHelpText('after', '\nExamples:\n  imageflow graph privacy-blur\n  imageflow graph batch-thumbnails -f svg -o batch.svg\n  imageflow graph resize-detect-filter -f png --fusion off -o rdf.png')
    .action(async (ref: string, flags: { format: string; output?: string; fusion?: string }) => {
      if (!['mermaid', 'svg', 'png'].includes(flags.format)) throw usageError(`--format ${flags.format}: use mermaid, svg or png`);
      if (flags.fusion && flags.fusion !== 'on' && flags.fusion !== 'off') throw usageError('--fusion must be on or off');
      const { buildGraph } = await import('../graph/model.js');
      const { toMermaid } = await import('../graph/mermaid.js');
      const { toSvg } = await import('../graph/svg.js');
      const { loadPipeline } = await import('../pipeline-source.js');
      const pipeline = await loadPipeline(ref);
      const template = pipeline.compile({ fusion: flags.fusion === undefined ? undefined : flags.fusion === 'on' }) as unknown as WorkflowTemplateObject;
      const graph = buildGraph(template);
      let data: string | Buffer;
      if (flags.format === 'mermaid') data = toMermaid(graph);
      else if (flags.format === 'svg') data = toSvg(graph);
      else {
        if (!flags.output && process.stdout.isTTY) throw usageError('png output needs -o FILE (or redirect stdout)');
        const { svgToPng } = await import('../graph/png.js');
        data = await svgToPng(toSvg(graph));
      }
      if (flags.output) {
        writeFileSync(flags.output, data);
        process.stderr.write(`wrote ${flags.output}\n`);
      } else process.stdout.write(data);
    });
}
