// Back-pressure inside a service: a bound on calls (MAX_CONCURRENT_CALLS + MAX_QUEUED_CALLS) and
// on the inline bytes they hold (MAX_INFLIGHT_REQUEST_BYTES). Past either, calls are refused at
// once with UNAVAILABLE "busy" (which the gateway turns into 503 + Retry-After), the service
// keeps serving, and the bytes gauge returns to zero.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import type { ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import { makePhoto } from '../support/images.js';
import { resizeClient, startService } from '../support/services.js';
import { scrape, sum } from './support/prometheus.js';

const MIB = 1024 * 1024;
let svc: ServiceProcess;
let client: ResizeServiceClient;
let metricsPort: number;

beforeAll(async () => {
  svc = await startService('resize', {
    METRICS_PORT: '0',
    MAX_CONCURRENT_CALLS: '1',
    MAX_QUEUED_CALLS: '3',
    MAX_INFLIGHT_REQUEST_BYTES: String(40 * MIB),
  });
  metricsPort = svc.metricsPort!;
  client = resizeClient(svc.port);
});

afterAll(async () => {
  client?.close();
  await svc?.stop();
});

const inline = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false };
const resize = (data: Buffer, width = 1200) =>
  new Promise<{ code: string; details: string }>((resolve) =>
    client.resize({ source: { data }, width, fit: 0, withoutEnlargement: false, background: '', output: inline }, new grpc.Metadata(), { deadline: Date.now() + 60_000 }, (err) =>
      resolve({ code: err ? grpc.status[err.code] : 'OK', details: err?.details ?? '' }),
    ),
  );

describe('service back-pressure', () => {
  it('by count: past 1 running + 3 queued, calls are refused at once as busy', async () => {
    const photo = await makePhoto(2400, 1600);
    const results = await Promise.all(Array.from({ length: 12 }, () => resize(photo)));
    const busy = results.filter((r) => r.code === 'UNAVAILABLE');
    expect(results.filter((r) => r.code === 'OK').length).toBeGreaterThanOrEqual(4);
    expect(busy.length).toBeGreaterThan(0);
    expect(busy.every((r) => /^busy: \d+ requests in progress and \d+ queued/.test(r.details))).toBe(true);
    expect(results.every((r) => r.code === 'OK' || r.code === 'UNAVAILABLE')).toBe(true);
  });

  it('by bytes: 8 concurrent 15 MiB inline images against a 40 MiB bound → some busy, the rest answered', async () => {
    const big = Buffer.alloc(15 * MIB, 7); // not an image: refused as INVALID_ARGUMENT once its turn comes
    const results = await Promise.all(Array.from({ length: 8 }, () => resize(big, 10)));
    const byBytes = results.filter((r) => r.code === 'UNAVAILABLE' && /MiB of requests in progress/.test(r.details));
    expect(byBytes.length).toBeGreaterThan(0);
    expect(results.every((r) => r.code === 'INVALID_ARGUMENT' || r.code === 'UNAVAILABLE')).toBe(true);
    const m = await scrape(metricsPort);
    expect(sum(m, 'imageflow_limiter_inflight_request_bytes')).toBe(0);
    expect(sum(m, 'imageflow_limiter_calls', { state: 'running' })).toBe(0);
    // Still serving.
    expect((await resize(await makePhoto(200, 100), 50)).code).toBe('OK');
    expect(svc.child.exitCode).toBeNull();
  });
});
