// The JSONPath subset the compiler reads out of gateway answers: `$`, `.name`, `['name']`, `[N]`
// (see RESULT_PATHS in constructs/pipeline/expressions.ts). Argo's jsonpath() returns nothing for a
// path that does not exist; so does this.
import { UnsupportedError } from './errors.js';

export function jsonpath(data: unknown, path: string, field: string): unknown {
  if (!path.startsWith('$')) throw new UnsupportedError(field, `JSONPath "${path}" must start with "$"`);
  const segment = /^(?:\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\])/;
  let rest = path.slice(1);
  let value: unknown = data;
  while (rest.length) {
    const m = segment.exec(rest);
    if (!m) throw new UnsupportedError(field, `JSONPath "${path}" uses syntax the local runner does not support (only .name, ['name'] and [N])`);
    rest = rest.slice(m[0].length);
    const key = m[1] ?? m[3];
    if (value === null || typeof value !== 'object') return undefined;
    value = key !== undefined ? (value as Record<string, unknown>)[key] : (value as unknown[])[Number(m[2])];
  }
  return value;
}
