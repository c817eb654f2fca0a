// With the storage server stopped, calls fail fast with UNAVAILABLE (never OK, never a hang);
// once it is back, the same service process serves again and nothing half-written is left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import type { ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { call, resizeClient, startService } from '../support/services.js';

let s3: TestS3;
let service: ServiceProcess;
let client: ResizeServiceClient;
let photo: Buffer;
const input = { bucket: 'imageflow', key: 'outage/in.jpg' };

beforeAll(async () => {
  s3 = await startTestS3();
  service = await startService('resize', { ...s3.env, MINIO_TIMEOUT_MS: '2000' });
  client = resizeClient(service.port);
  photo = await makePhoto(200, 100);
  await s3.storage.write(input, photo, 'image/jpeg');
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await s3?.stop();
});

const fromObject = { source: { object: input }, width: 50, fit: 0, withoutEnlargement: false, output: undefined, background: '' };
const inlineToStore = {
  source: { data: Buffer.alloc(0) },
  width: 50,
  fit: 0,
  withoutEnlargement: false,
  background: '',
  output: { delivery: OutputDelivery.OUTPUT_DELIVERY_STORE, bucket: 'imageflow', key: 'outage/written.jpg', format: 0, quality: 0, reuseExisting: false },
};

describe(`storage outage (${process.env.IMAGEFLOW_TEST_S3 ?? 'default'} S3)`, () => {
  it('reading and writing fail with UNAVAILABLE within the storage deadline, then recover', async () => {
    const ok = await call(client, client.resize, fromObject);
    expect(ok.output!.object!.key).toMatch(/^derived\/outage\/in\/resize-/);

    await s3.stop();
    for (const req of [fromObject, { ...inlineToStore, source: { data: photo } }]) {
      const started = Date.now();
      const err = (await call(client, client.resize, req).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.details).toMatch(/storage at http:\/\/127\.0\.0\.1:\d+ (unreachable|did not answer)/);
      expect(Date.now() - started).toBeLessThan(5_000);
    }

    await s3.start();
    // The failed write left nothing behind.
    expect(await s3.storage.stat({ bucket: 'imageflow', key: 'outage/written.jpg' })).toBeUndefined();
    // The same process serves again, with no restart.
    const again = await call(client, client.resize, { ...inlineToStore, source: { data: photo } });
    expect(again.output!.object).toEqual({ bucket: 'imageflow', key: 'outage/written.jpg' });
    expect((await s3.storage.stat({ bucket: 'imageflow', key: 'outage/written.jpg' }))!.size).toBe(again.output!.sizeBytes);
    expect(service.child.exitCode).toBeNull();
  });
});
