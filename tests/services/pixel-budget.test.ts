// The pixel budget on its own: what it admits at once, who waits and in what order, and how a
// waiter leaves (its deadline, or a full waiting line). No timing is measured; waiting is seen
// as a promise that has not settled after the event loop has turned.
import { describe, expect, it } from 'vitest';
import { Code, ServiceError } from '../../services/shared/errors.js';
import { PixelBudget } from '../../services/shared/pixel-budget.js';

const MP = 1_000_000;
const turn = () => new Promise((r) => setImmediate(r));

/** Tracks a pending acquire: `granted` flips when it resolves, `error` when it rejects. */
function track(p: Promise<() => void>) {
  const t: { granted: boolean; release?: () => void; error?: ServiceError } = { granted: false };
  p.then(
    (release) => {
      t.granted = true;
      t.release = release;
    },
    (err: ServiceError) => {
      t.error = err;
    },
  );
  return t;
}

describe('PixelBudget', () => {
  it('runs one 24 MP image at a time under 32 MP; the second starts when the first gives its pixels back', async () => {
    const budget = new PixelBudget(32 * MP);
    const first = await budget.acquire(24 * MP);
    const second = track(budget.acquire(24 * MP));
    await turn();
    expect(second.granted).toBe(false);
    expect([budget.inUse, budget.decoding, budget.waiting]).toEqual([24 * MP, 1, 1]);
    first();
    await turn();
    expect(second.granted).toBe(true);
    expect([budget.inUse, budget.decoding, budget.waiting]).toEqual([24 * MP, 1, 0]);
    second.release!();
    expect(budget.inUse).toBe(0);
    expect([budget.peakInUse, budget.peakDecoding, budget.waitedTotal]).toEqual([24 * MP, 1, 1]);
  });

  it('runs two 12 MP images together, and many small ones without waiting', async () => {
    const budget = new PixelBudget(32 * MP);
    const twelve = await Promise.all([budget.acquire(12 * MP), budget.acquire(12 * MP)]);
    expect(budget.decoding).toBe(2);
    const small = await Promise.all(Array.from({ length: 8 }, () => budget.acquire(MP)));
    expect([budget.inUse, budget.decoding, budget.waitedTotal]).toEqual([32 * MP, 10, 0]);
    for (const release of [...twelve, ...small]) release();
    expect([budget.inUse, budget.decoding]).toEqual([0, 0]);
  });

  it('an image larger than the whole budget is not refused: it runs alone', async () => {
    const budget = new PixelBudget(32 * MP);
    const huge = await budget.acquire(50 * MP);
    expect(budget.inUse).toBe(50 * MP);
    const small = track(budget.acquire(MP));
    await turn();
    expect(small.granted).toBe(false);
    huge();
    await turn();
    expect(small.granted).toBe(true);
    // And it waits for the ones running before it to finish.
    const hugeAgain = track(budget.acquire(50 * MP));
    await turn();
    expect(hugeAgain.granted).toBe(false);
    small.release!();
    await turn();
    expect(hugeAgain.granted).toBe(true);
  });

  it('serves waiters in arrival order: a small image that would fit waits behind a large one (no starvation)', async () => {
    const budget = new PixelBudget(32 * MP);
    const a = await budget.acquire(24 * MP);
    const b = track(budget.acquire(24 * MP));
    const c = track(budget.acquire(4 * MP)); // 24 + 4 fits, but B came first
    await turn();
    expect([b.granted, c.granted]).toEqual([false, false]);
    a();
    await turn();
    // B starts; C fits next to it (24 + 4 ≤ 32) and starts too.
    expect([b.granted, c.granted]).toEqual([true, true]);
    b.release!();
    c.release!();
    expect(budget.inUse).toBe(0);
  });

  it('a waiter whose deadline passes leaves with DEADLINE_EXCEEDED and lets the next one through', async () => {
    const budget = new PixelBudget(32 * MP);
    const a = await budget.acquire(24 * MP);
    const b = track(budget.acquire(24 * MP, { remainingMs: () => 30 }));
    const c = track(budget.acquire(4 * MP));
    await turn();
    expect(budget.waiting).toBe(2);
    await new Promise((r) => setTimeout(r, 80));
    expect(b.error).toBeInstanceOf(ServiceError);
    expect(b.error!.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(b.error!.message).toMatch(/deadline passed after waiting \d+ ms to decode a 24 MP image: 24 MP of images decoding \(budget 32 MP, MAX_INFLIGHT_PIXELS\)/);
    // B never took its pixels; C, which fits beside A, no longer waits behind it.
    expect(c.granted).toBe(true);
    expect([budget.inUse, budget.waiting]).toEqual([28 * MP, 0]);
    a();
    c.release!();
    expect(budget.inUse).toBe(0);
  });

  it('a call whose deadline has already passed is refused at once when it would wait, admitted when it fits', async () => {
    const budget = new PixelBudget(32 * MP);
    const gone = { remainingMs: () => -1 };
    const a = await budget.acquire(24 * MP, gone); // fits: no waiting, so no deadline to miss
    await expect(budget.acquire(24 * MP, gone)).rejects.toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(budget.waiting).toBe(0);
    a();
  });

  it('past maxWaiting waiters, a call that cannot start is refused at once as busy (UNAVAILABLE)', async () => {
    const budget = new PixelBudget(32 * MP, 1);
    const a = await budget.acquire(24 * MP);
    const b = track(budget.acquire(24 * MP));
    await turn();
    await expect(budget.acquire(24 * MP)).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
      message: expect.stringMatching(/^busy: 24 MP of images decoding and 1 calls waiting for the pixel budget of 32 MP; retry later$/),
    });
    // First come, first served: even a call that would fit beside A needs a place in the line.
    await expect(budget.acquire(2 * MP)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    a();
    await turn();
    expect(b.granted).toBe(true);
    // The line is empty again: a call that fits starts at once.
    const small = await budget.acquire(2 * MP);
    b.release!();
    small();
    expect(budget.inUse).toBe(0);
  });

  it('with no waiting allowed (maxWaiting 0), only calls that fit now run', async () => {
    const budget = new PixelBudget(32 * MP, 0);
    const a = await budget.acquire(24 * MP);
    await expect(budget.acquire(24 * MP)).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    const b = await budget.acquire(8 * MP);
    a();
    b();
  });

  it('a release given twice counts once', async () => {
    const budget = new PixelBudget(32 * MP);
    const a = await budget.acquire(10 * MP);
    const b = await budget.acquire(10 * MP);
    a();
    a();
    expect([budget.inUse, budget.decoding]).toEqual([10 * MP, 1]);
    b();
    expect([budget.inUse, budget.decoding]).toEqual([0, 0]);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new PixelBudget(0)).toThrow(/maxPixels must be > 0/);
  });
});
