// `imageflow smoke`: a post-deploy check of a gateway, with a pass/fail table and latencies.
import type { Command } from 'commander';
import { CliError, EXIT } from '../exit-codes.js';
import { formatMs, oneLine, renderTable } from '../output/table.js';

interface SmokeFlags {
  gateway?: string;
  apiKey?: string;
  timeout: string;
  s3Endpoint?: string;
  bucket?: string;
  json?: boolean;
}

export function registerSmoke(program: Command): void {
  program
    .command('smoke')
    .description('Check a gateway: health endpoints, each operation and a fused pipeline on a generated image, outputs decoded')
    .option('-g, --gateway <url>', 'gateway URL (default: $IMAGEFLOW_GATEWAY, else the running `imageflow up`, else http://127.0.0.1:8080)')
    .option('--api-key <key>', 'API key sent as "Authorization: Bearer <key>" (default: $IMAGEFLOW_API_KEY)')
    .option('--timeout <seconds>', 'per-call timeout', '60')
    .option('--s3-endpoint <url>', 'storage to decode the fused output from (credentials from MINIO_ACCESS_KEY/MINIO_SECRET_KEY)')
    .option('--bucket <name>', 'bucket for the storage check', 'imageflow')
    .option('--json', 'print results as JSON')
    .addHelpText('after', '\nExit code 1 when any check fails, 3 when the gateway cannot be reached at all.\n\nExamples:\n  imageflow smoke --gateway http://127.0.0.1:8080\n  imageflow smoke -g https://imageflow.example.com --api-key "$KEY"')
    .action(async (flags: SmokeFlags) => {
      const { Storage } = await import('../../services/shared/storage.js');
      const { runSmokeChecks } = await import('../smoke/checks.js');
      const { runningStack } = await import('../stack-connection.js');
      const env = process.env;
      const up = runningStack();
      const gateway = (flags.gateway ?? env.IMAGEFLOW_GATEWAY ?? up?.gateway ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
      const s3 = flags.s3Endpoint ?? (flags.gateway ? undefined : up?.s3.endpoint);
      const storage = s3
        ? new Storage({ endpoint: s3, accessKey: env.MINIO_ACCESS_KEY ?? up?.s3.accessKey ?? '', secretKey: env.MINIO_SECRET_KEY ?? up?.s3.secretKey ?? '', timeoutMs: 10_000 })
        : undefined;
      const timeout = Number(flags.timeout);
      const results = await runSmokeChecks({ gateway, apiKey: flags.apiKey ?? env.IMAGEFLOW_API_KEY, timeoutMs: (Number.isFinite(timeout) && timeout > 0 ? timeout : 60) * 1000, storage, bucket: flags.bucket ?? up?.bucket });
      const failed = results.filter((r) => !r.ok);
      if (flags.json) process.stdout.write(`${JSON.stringify({ gateway, results }, null, 2)}\n`);
      else {
        process.stdout.write(`smoke test of ${gateway}\n`);
        process.stdout.write(`${renderTable(['CHECK', 'RESULT', 'LATENCY', 'DETAIL'], results.map((r) => [r.name, r.ok ? 'PASS' : 'FAIL', formatMs(r.latencyMs), oneLine(r.detail, 90)]))}\n`);
        process.stdout.write(`${results.length - failed.length} passed, ${failed.length} failed\n`);
      }
      if (results.some((r) => r.unreachable)) throw new CliError(`gateway ${gateway} is unreachable`, EXIT.CLUSTER);
      if (failed.length) throw new CliError('', EXIT.FAILED);
    });
}
