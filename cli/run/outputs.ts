// The images a run produced: every `output` object ({bucket?, key}) in the workflow outputs
// (gateway answers, or lists of them from a fan-in), downloaded next to a JSON summary.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Storage } from '../../services/shared/storage.js';

export interface ImageRef {
  readonly output: string;
  readonly bucket: string;
  readonly key: string;
}

export function imageRefs(outputs: Readonly<Record<string, string>>, defaultBucket: string): ImageRef[] {
  const refs: ImageRef[] = [];
  for (const [output, text] of Object.entries(outputs)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      continue;
    }
    for (const answer of Array.isArray(value) ? value : [value]) {
      const o = (answer as { output?: { bucket?: string; key?: string } } | null)?.output;
      if (o?.key) refs.push({ output, bucket: o.bucket ?? defaultBucket, key: o.key });
    }
  }
  return refs;
}

/** Saves each image as <dir>/<output>/<file name>; returns the paths written. */
export async function downloadOutputs(storage: Storage, refs: readonly ImageRef[], dir: string): Promise<string[]> {
  const written: string[] = [];
  for (const ref of refs) {
    const { data } = await storage.read({ bucket: ref.bucket, key: ref.key }, 512 * 1024 * 1024);
    const folder = join(dir, ref.output);
    mkdirSync(folder, { recursive: true });
    const path = join(folder, basename(ref.key));
    writeFileSync(path, data);
    written.push(path);
  }
  return written;
}

export function writeSummary(dir: string, name: string, summary: unknown): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`);
  return path;
}
