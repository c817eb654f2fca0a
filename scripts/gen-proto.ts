// `npm run gen`: regenerates the TypeScript for every proto with buf + ts-proto (no system protoc).
// `npm run gen:check`: generates into a temporary directory and fails when the committed code
// differs, so CI catches a proto change whose code was not regenerated.
//
// One post-processing step (viewsInsteadOfCopies): ts-proto's node code copies every `bytes` field
// it decodes (`Buffer.from(reader.bytes())`) and every message it serializes for grpc-js
// (`Buffer.from(X.encode(value).finish())`). Both sources are fresh and never reused (the
// received message, the encoder's output), so a Buffer view over them is enough. For a 12 MP
// image a decode copy cost ~5 ms of CPU per call in the resize service and one more large
// allocation for the GC to chase (BENCHMARKS.md, finding 21).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

const BYTES_VIEW = `
/** A Buffer over these bytes, not a copy (imageflow: scripts/gen-proto.ts). */
function bytesView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
`;

function viewsInsteadOfCopies(dir: string): void {
  for (const file of files(dir).filter((f) => f.endsWith('.ts'))) {
    const code = readFileSync(file, 'utf8');
    const viewed = code
      .replaceAll('Buffer.from(reader.bytes())', 'bytesView(reader.bytes())')
      .replace(/Buffer\.from\((\w+)\.encode\(value\)\.finish\(\)\)/g, 'bytesView($1.encode(value).finish())');
    if (viewed !== code) writeFileSync(file, viewed + BYTES_VIEW);
  }
}

if (process.argv.includes('--check')) {
  const out = mkdtempSync(join(tmpdir(), 'imageflow-gen-'));
  try {
    buf(['generate', '--output', out]);
    const fresh = join(out, GEN_DIR);
    viewsInsteadOfCopies(fresh);
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
  viewsInsteadOfCopies(GEN_DIR);
  console.log(`generated ${GEN_DIR}`);
}
