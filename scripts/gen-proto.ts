// `npm run gen`: regenerates the TypeScript for every proto with buf + ts-proto (no system protoc).
// `npm run gen:check`: generates into a temporary directory and fails when the committed code
// differs, so CI catches a proto change whose code was not regenerated.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const GEN_DIR = 'services/shared/gen';
const buf = (args: string[]) => execFileSync('npx', ['--no-install', 'buf', ...args], { stdio: 'inherit' });

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

if (process.argv.includes('--check')) {
  const out = mkdtempSync(join(tmpdir(), 'imageflow-gen-'));
  try {
    buf(['generate', '--output', out]);
    const fresh = join(out, GEN_DIR);
    const want = new Map(files(fresh).map((f) => [relative(fresh, f), readFileSync(f, 'utf8')]));
    const have = new Map(files(GEN_DIR).map((f) => [relative(GEN_DIR, f), readFileSync(f, 'utf8')]));
    const stale = [...new Set([...want.keys(), ...have.keys()])].filter((f) => want.get(f) !== have.get(f));
    if (stale.length) {
      console.error(`generated code is stale (${stale.join(', ')}): run \`npm run gen\` and commit ${GEN_DIR}`);
      process.exit(1);
    }
    console.log(`${GEN_DIR} is up to date (${want.size} files)`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
} else {
  buf(['generate']);
  console.log(`generated ${GEN_DIR}`);
}
