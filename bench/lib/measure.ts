// Closed-loop load: `concurrency` workers call `fn` back to back until `iterations` calls have
// finished or `maxMs` has passed (whichever comes first), after `warmup` untimed calls. Every
// loop is bounded, so the benchmark always stops by itself.

export interface Stats {
  readonly label: string;
  readonly concurrency: number;
  readonly n: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  /** Completed calls per second over the timed window. */
  readonly rps: number;
  readonly wallMs: number;
}

export interface LoadOptions {
  readonly label: string;
  readonly concurrency: number;
  readonly iterations: number;
  /** Stop starting new calls after this long. @default 30000 */
  readonly maxMs?: number;
  /** Untimed calls first (connections, JIT, libvips caches). @default concurrency */
  readonly warmup?: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function summarize(label: string, concurrency: number, samples: number[], wallMs: number, errors = 0, firstError?: string): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    label,
    concurrency,
    n: s.length,
    errors,
    firstError,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    mean: s.length ? sum / s.length : NaN,
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    rps: s.length ? (s.length * 1000) / wallMs : 0,
    wallMs,
  };
}

export async function load(options: LoadOptions, fn: (i: number) => Promise<unknown>): Promise<Stats> {
  const { concurrency, iterations } = options;
  const maxMs = options.maxMs ?? 30_000;
  const warmup = options.warmup ?? concurrency;
  // Warm-up, at the same concurrency, untimed.
  let w = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, Math.max(1, warmup)) }, async () => {
      while (w < warmup) {
        w++;
        await fn(-1);
      }
    }),
  );
  const samples: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let started = 0;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < iterations && performance.now() < deadline) {
        const i = started++;
        const t = performance.now();
        try {
          await fn(i);
          samples.push(performance.now() - t);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message ?? String(err);
          if (errors > 5 && errors > samples.length) return; // broken target: stop early
        }
      }
    }),
  );
  return summarize(options.label, concurrency, samples, performance.now() - t0, errors, firstError);
}

/** Runs `fn` `n` times one after another and returns each duration (ms). */
export async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}

export const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 50);

export const fmtMs = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) : '–');
export const fmtX = (v: number) => (Number.isFinite(v) ? `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}×` : "–");
export const fmtPct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : '–');

/** A fixed-seed PRNG (mulberry32): the same order in every run, so runs stay comparable. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates over 0..n-1. */
function shuffled(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

/**
 * One call of each case per turn, `turns` turns, one call at a time, in a new order each turn
 * (shuffled with a fixed seed): a case then follows every other case in turn, not always the
 * same one, whose after-effects (a busy peer, a cold cache) would reach it alone. A drift in the
 * machine's speed reaches every case alike, call by call, where rounds of a closed loop leave
 * seconds between cases. Throughput is per case, over its own calls' time. A case stops being
 * called after 5 errors with no success.
 */
export async function interleaved(cases: ReadonlyArray<readonly [label: string, fn: () => Promise<unknown>]>, turns: number, maxMs = 60_000): Promise<Stats[]> {
  const samples = cases.map((): number[] => []);
  const errors = cases.map(() => 0);
  const firstErrors: Array<string | undefined> = cases.map(() => undefined);
  const deadline = performance.now() + maxMs;
  const random = seededRandom(0x1f2e3d4c);
  for (let turn = 0; turn < turns && performance.now() < deadline; turn++) {
    for (const i of shuffled(cases.length, random)) {
      if (errors[i] > 5 && samples[i].length === 0) continue;
      const t = performance.now();
      try {
        await cases[i][1]();
        samples[i].push(performance.now() - t);
      } catch (err) {
        errors[i]++;
        firstErrors[i] ??= (err as Error).message ?? String(err);
      }
    }
  }
  return cases.map(([label], i) => summarize(label, 1, samples[i], samples[i].reduce((a, b) => a + b, 0), errors[i], firstErrors[i]));
}
