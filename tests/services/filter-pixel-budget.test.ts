// The pixel budget in a real filter service process (MAX_INFLIGHT_PIXELS): large images sent at
// once are decoded one after the other, small ones side by side. Seen through the service's own
// gauges (imageflow_pixel_budget_*), which keep the peak since start, not through timing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageFormat, OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { FilterType, type FilterOperation, type FilterServiceClient } from '../../services/shared/gen/imageflow/v1/filter.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { call, filterClient, startService } from '../support/services.js';
import { scrape, sum } from '../reliability/support/prometheus.js';

const BUDGET = 3_000_000;
let service: ServiceProcess;
let client: FilterServiceClient;
let metricsPort: number;

beforeAll(async () => {
  // Inline images only: no storage needed. Four calls may run at once; 3 MP may be decoded at once.
  service = await startService('filter', {
    METRICS_PORT: '0',
    MAX_CONCURRENT_CALLS: '4',
    MAX_QUEUED_CALLS: '16',
    MAX_INFLIGHT_PIXELS: String(BUDGET),
  });
  metricsPort = service.metricsPort!;
  client = filterClient(service.port);
});

afterAll(async () => {
  client?.close();
  await service?.stop();
});

const jpegOut = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: ImageFormat.IMAGE_FORMAT_JPEG, quality: 0, reuseExisting: false };
const op = (type: FilterType, intensity?: number): FilterOperation => ({ type, intensity });
// Several passes over raw pixels, so each call decodes for a while.
const slow = [op(FilterType.FILTER_TYPE_BLUR, 6), op(FilterType.FILTER_TYPE_GRAYSCALE), op(FilterType.FILTER_TYPE_SHARPEN, 2)];
const filter = (data: Buffer) => call(client, client.filter, { source: { data }, operations: slow, output: jpegOut }, 60_000);

async function budget() {
  const m = await scrape(metricsPort);
  const pixels = (state: string) => sum(m, 'imageflow_pixel_budget_pixels', { state });
  const calls = (state: string) => sum(m, 'imageflow_pixel_budget_calls', { state });
  return {
    inUse: pixels('in_use'),
    peak: pixels('peak'),
    max: pixels('max'),
    decoding: calls('decoding'),
    waiting: calls('waiting'),
    peakDecoding: calls('peak_decoding'),
    waited: calls('waited_total'),
  };
}

describe('filter service under MAX_INFLIGHT_PIXELS', () => {
  // In this order: the peaks are since the process started.
  it('three 2.4 MP images sent at once (two would pass 3 MP) are decoded one at a time, and all answered', async () => {
    const large = await makePhoto(2000, 1200, 'jpeg', 3);
    const results = await Promise.all([filter(large), filter(large), filter(large)]);
    expect(results.map((r) => [r.output!.width, r.output!.height])).toEqual(Array(3).fill([2000, 1200]));
    const b = await budget();
    expect(b.max).toBe(BUDGET);
    expect(b.peakDecoding).toBe(1);
    expect(b.peak).toBe(2000 * 1200);
    expect([b.inUse, b.decoding, b.waiting]).toEqual([0, 0, 0]);
  });

  it('four 0.5 MP images sent at once are decoded side by side, none waiting', async () => {
    const before = await budget();
    const small = await makePhoto(1000, 500, 'jpeg', 4);
    const results = await Promise.all(Array.from({ length: 4 }, () => filter(small)));
    expect(results.every((r) => r.output!.width === 1000)).toBe(true);
    const b = await budget();
    // 4 × 0.5 MP fit in 3 MP: nobody had to wait, and more than one decoded at a time.
    expect(b.waited).toBe(before.waited);
    expect(b.peakDecoding).toBeGreaterThanOrEqual(2);
    expect([b.inUse, b.decoding, b.waiting]).toEqual([0, 0, 0]);
  });

  it('an image larger than the whole budget is still filtered (alone), not refused', async () => {
    const huge = await makePhoto(2400, 1800, 'jpeg', 5); // 4.3 MP > 3 MP (and written as a one-pass JPEG)
    const r = await filter(huge);
    expect([r.output!.width, r.output!.height]).toEqual([2400, 1800]);
    expect((await budget()).peak).toBe(2400 * 1800);
  });
});
