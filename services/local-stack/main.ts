// `npm run dev`: the local stack in the foreground until Ctrl-C.
import { ConfigError } from '../shared/config.js';
import { startLocalStack } from './stack.js';

const verbose = process.argv.includes('--verbose');
try {
  const stack = await startLocalStack({
    onLine: verbose ? (name, line) => process.stderr.write(`[${name}] ${line}\n`) : undefined,
  });
  const width = Math.max('S3 secret key'.length, ...stack.endpoints.map(([name]) => name.length)) + 3;
  for (const [name, url] of stack.endpoints) process.stdout.write(`${name.padEnd(width)}${url}\n`);
  process.stdout.write(`${'bucket'.padEnd(width)}${stack.bucket}\n`);
  process.stdout.write(`${'S3 access key'.padEnd(width)}${stack.s3.accessKey}\n${'S3 secret key'.padEnd(width)}${stack.s3.secretKey}\n`);
  process.stdout.write(`ready (${stack.s3.embedded ? 'embedded S3' : 'external S3'}); Ctrl-C stops everything\n`);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping...\n');
    void stack.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
  process.exit(1);
}
