// `imageflow lint`: every check short of synthesizing, for the named pipelines or all examples.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Pipeline, PipelineError } from '../../constructs/pipeline/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { LintFinding } from '../lint/lint-pipeline.js';
import { renderTable } from '../output/table.js';

export function registerLint(program: Command): void {
  program
    .command('lint')
    .description("Check pipelines: the compiler's checks, compilation with fusion on and off, and Argo schema validation (no synth)")
    .argument('[pipelines...]', 'example names, .ts modules or .json documents (default: every example)')
    .option('--json', 'print findings as JSON')
    .addHelpText('after', '\nExamples:\n  imageflow lint\n  imageflow lint pipelines/privacy-blur.ts my-pipeline.json')
    .action(async (refs: string[], flags: { json?: boolean }) => {
      const { Pipeline } = await import('../../constructs/pipeline/index.js');
      const { lintPipeline, loadFinding } = await import('../lint/lint-pipeline.js');
      const { loadPipeline, loadPipelines } = await import('../pipeline-source.js');
      const findings: LintFinding[] = [];
      const linted: string[] = [];
      let checks: string[] = [];
      const pipelines: Pipeline[] = [];
      for (const ref of refs.length ? refs : [undefined]) {
        try {
          if (ref === undefined) pipelines.push(...(await loadPipelines([])));
          else if (/\.json$/i.test(ref)) {
            // Every finding of a document, not only the first one.
            const all: PipelineError[] = Pipeline.lint(JSON.parse(readFileSync(ref, 'utf8')));
            if (all.length) findings.push(...all.map((e) => loadFinding(ref, e)));
            else pipelines.push(await loadPipeline(ref));
          } else pipelines.push(...(await loadPipelines([ref])));
        } catch (err) {
          findings.push(loadFinding(ref ?? 'pipelines/index.ts', err instanceof CliError ? new Error(err.message) : err));
        }
      }
      for (const p of pipelines) {
        const r = await lintPipeline(p);
        findings.push(...r.findings);
        checks = r.schemaChecks;
        linted.push(p.name);
      }
      const errors = findings.filter((f) => f.severity === 'error');
      if (flags.json) process.stdout.write(`${JSON.stringify({ linted, schemaChecks: checks, findings }, null, 2)}\n`);
      else {
        if (findings.length) process.stdout.write(`${renderTable(['PIPELINE', 'CHECK', 'SEVERITY', 'MESSAGE'], findings.map((f) => [f.pipeline, f.check, f.severity, f.message]))}\n`);
        process.stdout.write(`${linted.length} pipeline(s) linted (${linted.join(', ') || 'none'}); schema checks: ${checks.join(', ') || 'none available'}; ${errors.length} error(s), ${findings.length - errors.length} warning(s)\n`);
      }
      if (errors.length) throw new CliError('', EXIT.FAILED);
    });
}
