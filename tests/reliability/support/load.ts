// Bounded load generation for the fault and soak tests: a fixed number of workers issue tasks
// until a count or a duration is reached (optionally paced to a rate), recording each outcome.
export interface Outcome {
  /** ms since the run started. */
  readonly at: number;
  readonly ms: number;
  /** 'OK' or a status (gRPC code name, HTTP status). */
  readonly status: string;
  readonly detail?: string;
}

export interface LoadOptions {
  readonly concurrency: number;
  /** Stop after this many tasks... */
  readonly total?: number;
  /** ...or after this long (whichever comes first). */
  readonly durationMs?: number;
  /** Pace all workers together to about this many tasks per second. */
  readonly ratePerSec?: number;
  /** Returns the outcome status; a throw is recorded as 'THROWN'. */
  readonly task: (i: number) => Promise<string | { status: string; detail?: string }>;
  readonly stop?: AbortSignal;
}

export async function runLoad(options: LoadOptions): Promise<Outcome[]> {
  const started = performance.now();
  const outcomes: Outcome[] = [];
  let next = 0;
  const interval = options.ratePerSec ? 1000 / options.ratePerSec : 0;
  const more = () =>
    !options.stop?.aborted &&
    (options.total === undefined || next < options.total) &&
    (options.durationMs === undefined || performance.now() - started < options.durationMs);
  const worker = async () => {
    while (more()) {
      const i = next++;
      if (interval) {
        const due = started + i * interval;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!more() && options.durationMs !== undefined && performance.now() - started >= options.durationMs) break;
      }
      const t0 = performance.now();
      let status: string;
      let detail: string | undefined;
      try {
        const r = await options.task(i);
        if (typeof r === 'string') status = r;
        else ({ status, detail } = r);
      } catch (err) {
        status = 'THROWN';
        detail = (err as Error).message;
      }
      outcomes.push({ at: t0 - started, ms: performance.now() - t0, status, detail });
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return outcomes;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function countBy(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}

/** Least-squares slope of y over x (units of y per unit of x). */
export function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}
