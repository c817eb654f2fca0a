// `-p name=value` (repeatable) and `--secret ref=value` style options.
import { usageError } from './exit-codes.js';

/** commander collector: accumulates `name=value` pairs. */
export function collectPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw usageError(`"${value}" is not name=value`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** commander collector for repeatable plain values. */
export const collectList = (value: string, previous: string[] = []) => [...previous, value];

/** `configmap/key=N` pairs as numbers. */
export function numericPairs(pairs: Record<string, string>, option: string): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pairs).map(([k, v]) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw usageError(`${option} ${k}=${v}: the limit must be a whole number >= 1`);
      return [k, n];
    }),
  );
}
