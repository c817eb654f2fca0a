// The `imageflow` command. Each subcommand lives in commands/<name>.ts; this file wires them,
// turns errors into the documented exit codes (exit-codes.ts), and prints messages, not stacks.
// Command modules import their heavy dependencies (the stack, client-node, sharp, the compiler)
// inside their actions, so `--help` and each command start fast.
import { Command, CommanderError } from 'commander';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { registerGraph } from './commands/graph.js';
import { registerLint } from './commands/lint.js';
import { registerRun } from './commands/run.js';
import { registerSmoke } from './commands/smoke.js';
import { registerSubmit } from './commands/submit.js';
import { registerUp } from './commands/up.js';

export function buildProgram(): Command {
  const program = new Command('imageflow')
    .description('Run image pipelines locally, submit and watch them on Argo Workflows, check a gateway, lint and draw pipelines')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .exitOverride();
  registerUp(program);
  registerRun(program);
  registerSubmit(program);
  registerSmoke(program);
  registerLint(program);
  registerGraph(program);
  for (const command of program.commands) command.addHelpText('after', EXIT_CODES_HELP).exitOverride();
  return program;
}

/** Runs the command line; resolves to the exit code instead of exiting (tests call this). */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with exitCode 0; usage mistakes with 1, which we report as 2.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`imageflow: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof Error && err.name === 'PipelineError') {
      process.stderr.write(`imageflow: ${err.message}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`imageflow: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }
}

// `tsx cli/main.ts` (npm run cli); the bin goes through bin.mjs, which calls main() itself.
const invokedDirectly = process.argv[1] !== undefined && /cli[\\/]main\.ts$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv.slice(2));
  // Let stdout drain, then leave even if a library keeps a socket open.
  process.stdout.write('', () => process.exit(code));
}
