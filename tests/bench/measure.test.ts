// The benchmark's call-by-call alternation: every case gets its turns, the order rotates so each
// turn starts with the next case (no case always goes first), and a broken case stops being called.
import { describe, expect, it } from 'vitest';
import { interleaved } from '../../bench/lib/measure.js';

describe('interleaved', () => {
  it('calls each case once per turn, in the same order in every run', async () => {
    const run = async () => {
      const calls: string[] = [];
      const cases = ['a', 'b', 'c'].map((name) => [name, async () => void calls.push(name)] as const);
      return { calls, stats: await interleaved(cases, 4) };
    };
    const { calls, stats } = await run();
    expect(calls).toHaveLength(12);
    for (let turn = 0; turn < 4; turn++) expect([...calls.slice(3 * turn, 3 * turn + 3)].sort()).toEqual(['a', 'b', 'c']);
    expect((await run()).calls).toEqual(calls);
    expect(stats.map((s) => [s.label, s.n, s.errors, s.concurrency])).toEqual([
      ['a', 4, 0, 1],
      ['b', 4, 0, 1],
      ['c', 4, 0, 1],
    ]);
  });

  it('gives each case every other case as its predecessor, and every position in a turn', async () => {
    const calls: string[] = [];
    const names = ['a', 'b', 'c', 'd', 'h'];
    await interleaved(names.map((name) => [name, async () => void calls.push(name)] as const), 100);
    for (const name of names) {
      // Within a turn: who went just before it; and where in the turn it went.
      const before = new Set<string>();
      const positions = new Set<number>();
      calls.forEach((c, i) => {
        if (c !== name) return;
        positions.add(i % names.length);
        if (i % names.length > 0) before.add(calls[i - 1]);
      });
      expect([...before].sort(), name).toEqual(names.filter((n) => n !== name));
      expect(positions.size, name).toBe(names.length);
    }
  });

  it('times each call: the slower case has the larger p50, throughput over its own calls', async () => {
    const wait = (ms: number) => () => new Promise((resolve) => setTimeout(resolve, ms));
    const [fast, slow] = await interleaved([['fast', wait(1)], ['slow', wait(25)]], 6);
    expect(slow.p50).toBeGreaterThanOrEqual(24);
    expect(fast.p50).toBeLessThan(slow.p50);
    expect(slow.rps).toBeCloseTo((slow.n * 1000) / slow.wallMs, 6);
    expect(slow.rps).toBeLessThan(1000 / 24);
  });

  it('counts errors, keeps the first message, and stops calling a case that never succeeds', async () => {
    let brokenCalls = 0;
    let flakyCalls = 0;
    const [broken, flaky] = await interleaved(
      [
        ['broken', async () => { brokenCalls++; throw new Error(`refused ${brokenCalls}`); }],
        ['flaky', async () => { if (++flakyCalls % 2 === 0) throw new Error('every other call'); }],
      ],
      20,
    );
    expect(brokenCalls).toBe(6);
    expect(broken).toMatchObject({ n: 0, errors: 6, firstError: 'refused 1' });
    expect(flaky).toMatchObject({ n: 10, errors: 10, firstError: 'every other call' });
  });
});
