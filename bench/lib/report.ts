// Plain-text tables for the terminal (and Markdown for BENCHMARKS.md), and the pass/miss lines.

export type Cell = string | number;

export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: readonly Cell[]) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export interface Target {
  readonly id: string;
  readonly description: string;
  /** The measured value, as text (e.g. "91%"). */
  readonly measured: string;
  /** The bar (e.g. "≥ 85%"). */
  readonly bar: string;
  /** undefined: could not be measured in this run (skipped). */
  readonly pass: boolean | undefined;
  readonly note?: string;
}

export function targetLine(t: Target): string {
  const verdict = t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'MISS';
  return `${verdict}  ${t.description}: ${t.measured} (target ${t.bar})${t.note ? ` — ${t.note}` : ''}`;
}

export function section(title: string): string {
  return `\n## ${title}\n`;
}
