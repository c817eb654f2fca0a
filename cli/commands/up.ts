// `imageflow up`: the whole local stack in the foreground until Ctrl-C; `run` finds it through the
// state file it leaves.
import type { Command } from 'commander';
import { clusterError } from '../exit-codes.js';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Start the local stack (embedded S3, resize, filter, detection, gateway) and keep it running')
    .option('-v, --verbose', 'print every service log line')
    .addHelpText(
      'after',
      `
Ports come from S3_PORT, RESIZE_PORT, FILTER_PORT, DETECTION_PORT, GATEWAY_PORT (defaults 9000,
9091, 9092, 9093, 8080); MINIO_ENDPOINT (+ MINIO_ACCESS_KEY/MINIO_SECRET_KEY) uses an external S3.
Ready when it prints the endpoints. \`imageflow run\` uses this stack while it runs.`,
    )
    .action(async (flags: { verbose?: boolean }) => {
      const { startLocalStack } = await import('../../services/local-stack/stack.js');
      const { removeStackState, writeStackState } = await import('../stack-connection.js');
      const stack = await startLocalStack({
        onLine: flags.verbose ? (name, line) => process.stderr.write(`[${name}] ${line}\n`) : undefined,
      }).catch((err: Error) => {
        throw clusterError(`could not start the local stack: ${err.message}`);
      });
      const width = 16;
      for (const [name, url] of stack.endpoints) process.stdout.write(`${name.padEnd(width)}${url}\n`);
      process.stdout.write(`${'bucket'.padEnd(width)}${stack.bucket}\n`);
      process.stdout.write(`${'S3 access key'.padEnd(width)}${stack.s3.accessKey}\n${'S3 secret key'.padEnd(width)}${stack.s3.secretKey}\n`);
      const state = writeStackState(stack);
      process.stdout.write(`ready (${stack.s3.embedded ? 'embedded S3' : 'external S3'}; state in ${state}); Ctrl-C stops everything\n`);
      await new Promise<void>((resolve) => {
        let stopping = false;
        const shutdown = () => {
          if (stopping) return;
          stopping = true;
          process.stdout.write('stopping...\n');
          removeStackState();
          void stack.stop().then(resolve);
        };
        process.on('SIGINT', shutdown);
        process.on('SIGTERM', shutdown);
      });
    });
}
