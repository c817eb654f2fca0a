// What a step produced, in a few words: the stored image's key, the number of detections.
export function summarizeResult(result: string | undefined): string {
  if (result === undefined || result === '') return '';
  let value: unknown;
  try {
    value = JSON.parse(result);
  } catch {
    return result.slice(0, 60);
  }
  const one = (v: unknown): string => {
    if (!v || typeof v !== 'object') return String(v);
    const o = v as { output?: { key?: string; width?: number; height?: number }; detections?: unknown[] };
    const parts: string[] = [];
    if (o.output?.key) parts.push(`${o.output.key}${o.output.width ? ` (${o.output.width}x${o.output.height})` : ''}`);
    if (Array.isArray(o.detections)) parts.push(`${o.detections.length} detection${o.detections.length === 1 ? '' : 's'}`);
    return parts.join(', ') || JSON.stringify(v).slice(0, 60);
  };
  return Array.isArray(value) ? `[${value.length}] ${value.map(one).join('; ')}` : one(value);
}
