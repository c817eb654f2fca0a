// `--input` files: globs expanded (wildcards in the file-name part, which is what shells leave
// unexpanded when quoted), then uploaded under inputs/ so the gateway can read them by key.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Storage } from '../../services/shared/storage.js';
import { usageError } from '../exit-codes.js';

export function expandInputs(patterns: readonly string[]): string[] {
  const files: string[] = [];
  for (const pattern of patterns) {
    const name = basename(pattern);
    if (!/[*?[]/.test(name)) {
      try {
        if (!statSync(pattern).isFile()) throw new Error();
      } catch {
        throw usageError(`--input ${pattern}: no such file`);
      }
      files.push(pattern);
      continue;
    }
    const dir = dirname(pattern);
    const re = new RegExp(`^${name.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      throw usageError(`--input ${pattern}: no such directory ${dir}`);
    }
    const matched = entries.filter((e) => re.test(e)).sort().map((e) => join(dir, e));
    if (!matched.length) throw usageError(`--input ${pattern}: matches no file`);
    files.push(...matched);
  }
  return files;
}

const CONTENT_TYPES: Record<string, string> = { '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png', '.webp': 'image/webp', '.avif': 'image/avif' };

/** Uploads each file as `inputs/<name>`; returns the keys in order. */
export async function uploadInputs(storage: Storage, bucket: string, files: readonly string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const file of files) {
    const key = `inputs/${basename(file).replace(/[^A-Za-z0-9._-]/g, '_')}`;
    await storage.write({ bucket, key }, readFileSync(file), CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream');
    keys.push(key);
  }
  return keys;
}
