// `imageflow run`: the local Argo run (see cli/run/local-run.ts and cli/runner/).
import type { Command } from 'commander';
import { CliError, EXIT, usageError } from '../exit-codes.js';
import { stepLine, stepTable, isStepNode, type ReportNode } from '../output/node-report.js';
import { collectList, collectPair, numericPairs } from '../parameters.js';
import type { NodeStatus, WorkflowRun } from '../runner/executor.js';

interface RunFlags {
  input: string[];
  inputParam?: string;
  param: Record<string, string>;
  out?: string;
  fusion?: 'on' | 'off';
  gateway?: string;
  s3Endpoint?: string;
  bucket?: string;
  secret: Record<string, string>;
  semaphore: Record<string, string>;
  json?: boolean;
  verbose?: boolean;
}

/** ReportNode view of the local executor's nodes (depth from the parent chain). */
export function reportNodes(nodes: readonly NodeStatus[]): ReportNode[] {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const depth = (n: NodeStatus): number => (n.parent ? 1 + depth(byName.get(n.parent)!) : n.displayName === 'onExit' ? 1 : 0);
  // Steps inside a fan-out branch carry the branch's item, e.g. `thumb-to-gray (inputs/a.jpg)`.
  const item = (n: NodeStatus) => {
    const parent = n.parent ? byName.get(n.parent) : undefined;
    const m = parent?.type === 'DAG' ? /\(\d+:(.*)\)$/.exec(parent.displayName) : null;
    return m ? ` (${m[1]})` : '';
  };
  return nodes.map((n) => ({
    displayName: n.displayName + item(n),
    type: n.type,
    phase: n.phase,
    message: n.message,
    templateName: n.templateName,
    durationMs: n.startedAt !== undefined && n.finishedAt !== undefined ? n.finishedAt - n.startedAt : undefined,
    attempts: n.attempts,
    result: n.result,
    depth: depth(n),
  }));
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Run a pipeline on this machine: compile it and execute the WorkflowTemplate against the local gateway, as Argo would')
    .argument('<pipeline>', 'an example pipeline name, a .ts module exporting one, or a .json pipeline document')
    .option('-i, --input <file-or-glob>', 'image file(s) to upload and feed to the pipeline (repeatable; quote globs)', collectList, [])
    .option('--input-param <name>', 'parameter that receives the uploaded keys (default: the first object-key parameter)')
    .option('-p, --param <name=value>', 'set a pipeline parameter (repeatable)', collectPair, {})
    .option('-o, --out <dir>', 'download output images and a run.json summary here')
    .option('--fusion <on|off>', "override the pipeline's fusion switch")
    .option('--gateway <url>', 'use this gateway instead of `imageflow up` or a stack started for the run')
    .option('--s3-endpoint <url>', 'storage behind --gateway (credentials from MINIO_ACCESS_KEY/MINIO_SECRET_KEY)')
    .option('--bucket <name>', 'bucket for inputs (default: the stack default bucket)')
    .option('--secret <name/key=value>', 'value of a Secret key read by a template header (repeatable)', collectPair, {})
    .option('--semaphore <configmap/key=N>', 'limit of a synchronization semaphore (default: no limit locally)', collectPair, {})
    .option('--json', 'print the run as JSON instead of a table')
    .option('-v, --verbose', 'show service logs of a stack started for the run')
    .addHelpText(
      'after',
      `
Where it runs: --gateway if given; else the stack of a running \`imageflow up\`; else a stack
started for this command on free ports (stopped at the end).

Inputs: each file is uploaded as inputs/<name>. A pipeline with a list parameter gets all keys
in one run; a single-image pipeline runs once per input.

Examples:
  imageflow run thumbnails -i photo.jpg -o out/
  imageflow run batch-thumbnails -i 'photos/*.jpg' -p width=128 -p notifyUrl=http://127.0.0.1:9999/hook
  imageflow run privacy-blur -i street.jpg --fusion off`,
    )
    .action(async (ref: string, flags: RunFlags) => {
      const { loadPipeline } = await import('../pipeline-source.js');
      const { expandInputs } = await import('../run/inputs.js');
      const { runLocally } = await import('../run/local-run.js');
      const { RunInputError } = await import('../runner/executor.js');
      const { UnsupportedError } = await import('../runner/errors.js');
      const { connectStack } = await import('../stack-connection.js');
      const pipeline = await loadPipeline(ref);
      if (flags.fusion && flags.fusion !== 'on' && flags.fusion !== 'off') throw usageError('--fusion must be on or off');
      const files = expandInputs(flags.input);
      const env = process.env;
      const secrets = flags.secret;
      const connection = await connectStack({
        gateway: flags.gateway ?? env.IMAGEFLOW_GATEWAY,
        s3Endpoint: flags.s3Endpoint,
        bucket: flags.bucket,
        onServiceLine: flags.verbose ? (name, line) => process.stderr.write(`[${name}] ${line}\n`) : undefined,
        onStartingStack: () => process.stderr.write('no gateway given and no `imageflow up` running: starting a local stack for this run...\n'),
      });
      let runs: readonly WorkflowRun[] = [];
      try {
        if (!flags.json) process.stdout.write(`running ${pipeline.name} against ${connection.origin} (${connection.gatewayUrl})\n`);
        const result = await runLocally({
          pipeline,
          connection,
          inputFiles: files,
          inputParam: flags.inputParam,
          parameters: flags.param,
          fusion: flags.fusion === undefined ? undefined : flags.fusion === 'on',
          outDir: flags.out,
          secrets,
          semaphores: numericPairs(flags.semaphore, '--semaphore'),
          // One line per step phase change while it runs; the table comes at the end.
          onNode: flags.json
            ? undefined
            : (node, run) => {
                const [view] = reportNodes([{ ...node, parent: undefined }]);
                // DAG nodes (the workflow itself, fan-out branches) are bookkeeping, not steps.
                if (isStepNode({ type: node.type, depth: 1 }) && node.phase !== 'Pending')
                  process.stdout.write(`  ${run.name}  ${stepLine(view)}\n`);
              },
        });
        runs = result.runs;
        if (flags.json) process.stdout.write(`${JSON.stringify(result.runs, null, 2)}\n`);
        else {
          for (const run of result.runs) {
            process.stdout.write(`\n${run.name}: ${run.phase}${run.message ? ` (${run.message})` : ''} in ${((run.finishedAt - run.startedAt) / 1000).toFixed(1)}s\n`);
            process.stdout.write(`${stepTable(reportNodes(run.nodes))}\n`);
            for (const [k, v] of Object.entries(run.outputs)) process.stdout.write(`output ${k}: ${v.length > 300 ? `${v.slice(0, 300)}…` : v}\n`);
          }
          if (result.downloaded.length) process.stdout.write(`\nwrote ${result.downloaded.length} file(s) under ${flags.out}\n`);
        }
      } catch (err) {
        if (err instanceof UnsupportedError) throw usageError(`the local runner refuses this template: ${err.message}`);
        if (err instanceof RunInputError) throw usageError(err.message);
        throw err;
      } finally {
        await connection.close();
      }
      if (runs.some((r) => r.phase !== 'Succeeded')) throw new CliError('', EXIT.FAILED);
    });
}
