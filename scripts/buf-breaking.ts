// `buf breaking` against the committed baseline image of the published contract.
// `npx tsx scripts/buf-breaking.ts --update` records the current protos as the new baseline,
// which is a deliberate step when a breaking change is accepted (a new major package version).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const BASELINE = 'proto/baseline.binpb';
const buf = (args: string[]) => execFileSync('npx', ['--no-install', 'buf', ...args], { stdio: 'inherit' });

if (process.argv.includes('--update') || !existsSync(BASELINE)) {
  buf(['build', '--exclude-source-info', '-o', BASELINE]);
  console.log(`recorded ${BASELINE}`);
} else {
  buf(['breaking', '--against', BASELINE]);
  console.log(`no breaking change against ${BASELINE}`);
}
