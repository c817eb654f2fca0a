// Deterministic output keys: the same input and the same parameters always name the same object,
// so a retried call overwrites only its own output. Keys follow the lineage of an image:
//   photos/cat.jpg --resize--> derived/photos/cat/resize-<hash>.jpg --filter--> derived/photos/cat/resize-<hash>/filter-<hash>.jpg
// A fused chain in the gateway derives the same keys step by step without storing intermediates.
import { createHash } from 'node:crypto';

export const DERIVED_PREFIX = 'derived/';

export type KeySource = { readonly bucket: string; readonly key: string } | { readonly sha256: string };

/** JSON with object keys sorted, undefined dropped: equal parameters give equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The hash naming one operation on one input; also stored on the output to validate reuse. */
export function paramsHash(source: KeySource, op: string, params: unknown): string {
  const id = 'sha256' in source ? `sha256:${source.sha256}` : `${source.bucket}/${source.key}`;
  return sha256Hex(`${op}\n${id}\n${canonicalJson(params)}`).slice(0, 16);
}

export function deriveOutputKey(source: KeySource, op: string, params: unknown, extension: string): string {
  const hash = paramsHash(source, op, params);
  const stem =
    'sha256' in source
      ? `${DERIVED_PREFIX}inline/${source.sha256.slice(0, 16)}`
      : withDerivedPrefix(stripExtension(source.key));
  return `${stem}/${op}-${hash}.${extension}`;
}

function stripExtension(key: string): string {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  return dot > slash + 1 ? key.slice(0, dot) : key;
}

const withDerivedPrefix = (stem: string) => (stem.startsWith(DERIVED_PREFIX) ? stem : DERIVED_PREFIX + stem);
