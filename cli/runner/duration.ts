// Argo's duration strings (wfv1.ParseStringToDuration): a bare integer is seconds, otherwise a
// Go duration such as "500ms", "2s", "1m30s", "1h".
const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of an Argo duration string; throws naming `field` when it is not one. */
export function parseDuration(text: string, field: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const part = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (!m) throw new Error(`${field}: "${text}" is not a duration (e.g. "2s", "1m30s" or a number of seconds)`);
    total += Number(m[1]) * UNITS[m[2]];
    pos = part.lastIndex;
  }
  if (!text.length) throw new Error(`${field}: empty duration`);
  return total;
}
