// A short, bounded soak in the suite (the long one is `npx tsx tests/reliability/soak.ts`): the
// whole stack under a paced mix for 20 s with no failed request and every process within its
// Deployment memory limit, then a saturation burst against services with a small queue, answered
// with 503 + Retry-After and never a 500.
import { describe, expect, it } from 'vitest';
import { runSoak, soakMarkdown } from './support/soak-runner.js';

describe('short soak', () => {
  it('a paced mix has no errors and bounded memory; saturation gives 503/429 with Retry-After', { timeout: 150_000 }, async () => {
    const report = await runSoak({
      durationMs: 20_000,
      ratePerSec: 3,
      warmupMs: 5_000,
      sampleEveryMs: 1_000,
      saturationMs: 6_000,
      saturationConcurrency: 24,
      detect: false,
      smallInputsOnly: true,
      // 10 slots per service: more than the sustained phase's 8 workers, fewer than the burst's 24.
      serviceEnv: { MAX_CONCURRENT_CALLS: '2', MAX_QUEUED_CALLS: '8' },
    });
    console.log(`soak summary\n${soakMarkdown(report)}\n${JSON.stringify(report.sustained.errorSamples)}`);
    expect(report.sustained.errors).toBe(0);
    expect(report.sustained.total.requests).toBeGreaterThan(30);
    for (const m of report.memory) expect(Math.max(m.maxMiB, m.saturationMaxMiB ?? 0), m.name).toBeLessThan(m.limitMiB);
    expect(report.saturation!.unexpected).toEqual([]);
    expect(report.saturation!.retryAfter).toBeGreaterThan(0);
    expect(report.saturation!.total.statuses['200']).toBeGreaterThan(0);
  });
});
