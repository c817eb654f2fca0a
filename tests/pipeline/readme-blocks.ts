// The YAML shown in pipelines/README.md is generated, not typed: each block follows a marker
//   <!-- generated: <pipeline> [unfused] <path> -->
// where <path> selects part of the compiled template, e.g. spec.templates[name=main].dag.
// and code blocks follow <!-- source: pipelines/<file> --> and show that file whole.
// `npx tsx tests/pipeline/readme-blocks.ts` rewrites the blocks; readme.test.ts checks them.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { pipelines } from '../../pipelines/index.js';

export const README = fileURLToPath(new URL('../../pipelines/README.md', import.meta.url));
const BLOCK = /(<!-- generated: (\S+)( unfused)? (\S+) -->\n```yaml\n)([\s\S]*?)(```)/g;
const SOURCE = /(<!-- source: (\S+) -->\n```(?:ts|json)\n)([\s\S]*?)(```)/g;
const ROOT = new URL('../../', import.meta.url);
const sourceOf = (file: string) => readFileSync(new URL(file, ROOT), 'utf8');

function select(value: any, path: string): unknown {
  for (const segment of path.split('.')) {
    const m = /^([^[]+)(?:\[name=([^\]]+)\])?$/.exec(segment);
    if (!m) throw new Error(`bad path segment ${segment}`);
    value = value?.[m[1]];
    if (m[2]) value = (value as { name: string }[] | undefined)?.find((x) => x.name === m[2]);
    if (value === undefined) throw new Error(`nothing at ${path} (segment ${segment})`);
  }
  return value;
}

export function renderBlock(pipeline: string, unfused: boolean, path: string): string {
  const p = pipelines.find((x) => x.name === pipeline);
  if (!p) throw new Error(`no example pipeline ${pipeline}`);
  const wt = p.compile({ fusion: !unfused });
  const value = path === '.' ? wt : select(wt, path);
  // Show the selected part under its own key; a list element picked by name stays a list item.
  const lastSegment = path.split('.').pop()!;
  const key = lastSegment.replace(/\[.*$/, '');
  const shown = path === '.' ? value : { [key]: lastSegment.includes('[') ? [value] : value };
  return stringify(shown, { lineWidth: 0 });
}

/** Every block of the README with the text it has and the text it should have. */
export function readmeBlocks(text = readFileSync(README, 'utf8')) {
  return [
    ...[...text.matchAll(BLOCK)].map((m) => ({ marker: `${m[2]}${m[3] ?? ''} ${m[4]}`, actual: m[5], expected: renderBlock(m[2], !!m[3], m[4]) })),
    ...[...text.matchAll(SOURCE)].map((m) => ({ marker: m[2], actual: m[3], expected: sourceOf(m[2]) })),
  ];
}

export function updateReadme(): void {
  const text = readFileSync(README, 'utf8');
  const yaml = text.replace(BLOCK, (_all, head, name, unfused, path, _old, tail) => `${head}${renderBlock(name, !!unfused, path)}${tail}`);
  writeFileSync(README, yaml.replace(SOURCE, (_all, head, file, _old, tail) => `${head}${sourceOf(file)}${tail}`));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) updateReadme();
