// An embedded model that cannot load leaves the service up but NOT_SERVING, and Detect answers
// UNAVAILABLE with the reason: never a made-up empty result.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import type { AiDetectionServiceClient, DetectRequest, DetectResponse } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { call, startService } from '../support/services.js';
import { detectRequest, detectionClient, eventually, healthOf } from './support.js';

let svc: ServiceProcess;
let client: AiDetectionServiceClient;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'imageflow-detection-broken-'));
  writeFileSync(join(dir, 'broken.json'), '{"modelTopology": {}, "weightsManifest": [{"paths": ["missing.bin"], "weights": []}]}');
  writeFileSync(
    join(dir, 'models.json'),
    JSON.stringify({ models: [{ name: 'broken', backend: 'embedded', decoder: 'centernet', inputWidth: 512, inputHeight: 512, labels: ['thing'], modelFile: 'broken.json' }] }),
  );
  svc = await startService('detection', { MODEL_REGISTRY_FILE: join(dir, 'models.json') });
  client = detectionClient(svc.port);
}, 60_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
});

it('stays NOT_SERVING and answers UNAVAILABLE naming the load failure', async () => {
  const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#336699' } }).png().toBuffer();
  const detect = () =>
    call<DetectRequest, DetectResponse>(client, client.detect, detectRequest({ data: image })).then(
      () => 'OK',
      (e: grpc.ServiceError) => `${grpc.status[e.code]}: ${e.details}`,
    );
  await eventually(async () => /failed to load/.test(await detect()), 30_000, 'load failure reported');
  expect(await detect()).toMatch(/^UNAVAILABLE: model "broken" failed to load: .*missing\.bin/);
  expect(await healthOf(svc.port)).toBe('NOT_SERVING');
  expect((await call(client, client.listModels, {})).models[0]).toMatchObject({ name: 'broken', ready: false });
});
