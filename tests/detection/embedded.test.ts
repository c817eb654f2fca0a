// The detection service process with its embedded CenterNet model, on real photos (Debian's
// python3-skimage sample data), with a real S3 server for stored annotated images.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { classColour, layoutOverlay, type Rect } from '../../services/detection/draw-boxes.js';
import type { AiDetectionServiceClient, DetectRequest, DetectResponse } from '../../services/shared/gen/imageflow/v1/ai_detection.js';
import { ImageFormat, OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { photo } from '../fixtures/detection/photos.js';
import { declaredDimensions } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { call, codeOf, startService } from '../support/services.js';
import { detectRequest, detectionClient, eventually, healthOf, inlinePng } from './support.js';

let s3: TestS3;
let svc: ServiceProcess;
let client: AiDetectionServiceClient;

beforeAll(async () => {
  photo('astronaut'); // extract the fixtures before the clock of the first test starts
  s3 = await startTestS3(['imageflow']);
  svc = await startService('detection', s3.env);
  client = detectionClient(svc.port);
  await eventually(async () => (await healthOf(svc.port)) === 'SERVING', 60_000, 'SERVING');
}, 120_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  await s3?.stop();
});

const detect = (req: DetectRequest) => call<DetectRequest, DetectResponse>(client, client.detect, req, 60_000);
const inline = (data: Buffer, extra: Partial<DetectRequest> = {}) => detect(detectRequest({ data }, extra));
const labels = (r: DetectResponse) => r.detections.map((d) => d.label);

describe('embedded model on real photos', () => {
  it('finds the astronaut as a person with a plausible box', async () => {
    const r = await inline(photo('astronaut'));
    expect(r.model).toBe('centernet');
    expect(r.modelVersion).toMatch(/centernet/);
    expect([r.imageWidth, r.imageHeight]).toEqual([512, 512]);
    const person = r.detections.find((d) => d.label === 'person')!;
    expect(person).toBeDefined();
    expect(person.classId).toBe(0);
    expect(person.confidence).toBeGreaterThan(0.4);
    // She fills the left two thirds of the picture, head to the bottom edge.
    const b = person.box!;
    expect(b.x).toBeLessThan(60);
    expect(b.y).toBeLessThan(60);
    expect(b.x + b.width).toBeGreaterThan(300);
    expect(b.x + b.width).toBeLessThan(450);
    expect(b.y + b.height).toBeGreaterThan(460);
    expect(r.annotated).toBeUndefined();
    expect(r.timings!.inferenceMs).toBeGreaterThan(0);
    expect(r.timings!.totalMs).toBeGreaterThanOrEqual(r.timings!.inferenceMs);
  });

  it('finds the person in a greyscale photo and the cup on the coffee photo', async () => {
    expect(labels(await inline(photo('camera')))).toContain('person');
    expect(labels(await inline(photo('coffee')))).toContain('cup');
  });

  it('reports boxes in upright pixels of an EXIF-rotated photo', async () => {
    const upright = (await inline(photo('astronaut'))).detections[0].box!;
    const stored = await sharp(photo('astronaut')).rotate(270).toBuffer();
    const rotated = await sharp(stored).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
    const r = await inline(rotated);
    expect([r.imageWidth, r.imageHeight]).toEqual([512, 512]);
    const b = r.detections.find((d) => d.label === 'person')!.box!;
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(b[k] - upright[k])).toBeLessThan(12);
  });

  it('finds nothing on a plain grey image rather than inventing something', async () => {
    const grey = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } }).png().toBuffer();
    expect((await inline(grey)).detections).toEqual([]);
  });
});

describe('parameters change the result as documented', () => {
  it('confidence_threshold: higher keeps fewer, above every score keeps none', async () => {
    const coffee = photo('coffee');
    const loose = await inline(coffee, { confidenceThreshold: 0.1 });
    const strict = await inline(coffee, { confidenceThreshold: 0.45 });
    expect(loose.detections.length).toBeGreaterThan(strict.detections.length);
    expect(strict.detections.every((d) => d.confidence >= 0.45)).toBe(true);
    expect((await inline(coffee, { confidenceThreshold: 0.95 })).detections).toEqual([]);
  });

  it('iou_threshold: a higher one lets overlapping boxes of one class through', async () => {
    const coffee = photo('coffee');
    const nms = await inline(coffee, { confidenceThreshold: 0.2, iouThreshold: 0.45 });
    const loose = await inline(coffee, { confidenceThreshold: 0.2, iouThreshold: 0.99 });
    expect(loose.detections.length).toBeGreaterThan(nms.detections.length);
    expect(loose.detections.filter((d) => d.label === 'cup').length).toBeGreaterThan(1);
  });

  it('classes and max_detections filter', async () => {
    const coffee = photo('coffee');
    expect(labels(await inline(coffee, { classes: ['cup'] }))).toEqual(['cup']);
    expect(await inline(coffee, { classes: ['person'] })).toMatchObject({ detections: [] });
    expect((await inline(coffee, { confidenceThreshold: 0.1, maxDetections: 1 })).detections).toHaveLength(1);
  });
});

describe('annotated output', () => {
  it('stores the annotated image at a deterministic key with a JSON sidecar; it differs from the input only where boxes are', async () => {
    const input = photo('astronaut');
    await s3.storage.write({ bucket: 'imageflow', key: 'photos/astronaut.png' }, input, 'image/png');
    const req = detectRequest(
      { object: { bucket: 'imageflow', key: 'photos/astronaut.png' } },
      { drawBoxes: true, output: { ...inlinePng, delivery: OutputDelivery.OUTPUT_DELIVERY_STORE_AND_INLINE } },
    );
    const r = await detect(req);
    const key = r.annotated!.object!.key;
    expect(key).toMatch(/^derived\/photos\/astronaut\/detect-[0-9a-f]{16}\.png$/);
    expect(r.sidecar).toEqual({ bucket: 'imageflow', key: `${key}.json` });
    expect(r.annotated).toMatchObject({ width: 512, height: 512, format: ImageFormat.IMAGE_FORMAT_PNG, reused: false });

    const sidecar = JSON.parse((await s3.storage.read(r.sidecar!, 1e6)).data.toString());
    expect(sidecar).toMatchObject({ model: 'centernet', image: { width: 512, height: 512 }, annotated: r.annotated!.object });
    // The response carries proto float32s; the sidecar the same values as JSON numbers.
    const f32 = (d: DetectResponse['detections'][number]) => ({ ...d, confidence: Math.fround(d.confidence), box: Object.fromEntries(Object.entries(d.box!).map(([k, v]) => [k, Math.fround(v)])) });
    expect(sidecar.detections.map(f32)).toEqual(r.detections);
    const stored = (await s3.storage.read(r.annotated!.object!, 1e7)).data;
    expect(stored.equals(r.annotated!.data)).toBe(true);

    // Every changed pixel lies on a box outline or a label; the outline is the class colour.
    const original = await sharp(input).removeAlpha().raw().toBuffer();
    const drawn = await sharp(r.annotated!.data).removeAlpha().raw().toBuffer();
    const layout = layoutOverlay(r.detections, 512, 512);
    const inside = (rect: Rect, x: number, y: number, m: number) => x >= rect.x - m && x < rect.x + rect.width + m && y >= rect.y - m && y < rect.y + rect.height + m;
    const onOutline = (rect: Rect, x: number, y: number) => inside(rect, x, y, 1) && !inside({ x: rect.x + layout.strokeWidth + 1, y: rect.y + layout.strokeWidth + 1, width: rect.width - 2 * layout.strokeWidth - 2, height: rect.height - 2 * layout.strokeWidth - 2 }, x, y, 0);
    let changed = 0;
    const strays: string[] = [];
    for (let y = 0; y < 512; y++) {
      for (let x = 0; x < 512; x++) {
        const i = (y * 512 + x) * 3;
        if (original[i] === drawn[i] && original[i + 1] === drawn[i + 1] && original[i + 2] === drawn[i + 2]) continue;
        changed++;
        if (!layout.items.some((it) => onOutline(it.box, x, y) || inside(it.label, x, y, 1))) strays.push(`${x},${y}`);
      }
    }
    expect(strays.slice(0, 10)).toEqual([]);
    expect(changed).toBeGreaterThan(1000);
    const b = r.detections[0].box!;
    const edge = Math.round(b.y + b.height / 2) * 512 + Math.round(b.x + 1);
    expect('#' + [...drawn.subarray(edge * 3, edge * 3 + 3)].map((v) => v.toString(16).padStart(2, '0')).join('')).toBe(classColour(0));
  });

  it('draws on images with alpha, in grey, tiny or large, with labels scaled to the image', async () => {
    const draw = (data: Buffer) => inline(data, { drawBoxes: true, output: inlinePng });
    const alpha = await draw(await sharp(photo('astronaut')).ensureAlpha(0.5).png().toBuffer());
    expect(await sharp(alpha.annotated!.data).metadata()).toMatchObject({ width: 512, height: 512, hasAlpha: true });
    const grey = await draw(photo('camera'));
    expect(grey.detections.length).toBeGreaterThan(0);
    expect(await sharp(grey.annotated!.data).metadata()).toMatchObject({ channels: 3 }); // colour boxes on a grey photo
    const tiny = await draw(await sharp({ create: { width: 12, height: 9, channels: 3, background: '#204060' } }).png().toBuffer());
    expect(tiny.annotated).toMatchObject({ width: 12, height: 9 });
    const small = (await inline(photo('astronaut'))).detections[0].box!;
    const large = await draw(await sharp(photo('astronaut')).resize(2048, 2048).png().toBuffer());
    const b = large.detections.find((d) => d.label === 'person')!.box!;
    for (const k of ['x', 'y', 'width', 'height'] as const) expect(Math.abs(b[k] - 4 * small[k])).toBeLessThan(40);
    expect(layoutOverlay(large.detections, 2048, 2048).fontSize).toBeGreaterThanOrEqual(4 * layoutOverlay([], 512, 512).fontSize - 4);
  });

  it('returns the stored annotated image and its detections on reuse_existing', async () => {
    const req = detectRequest(
      { object: { bucket: 'imageflow', key: 'photos/astronaut.png' } },
      { drawBoxes: true, output: { ...inlinePng, delivery: OutputDelivery.OUTPUT_DELIVERY_STORE, reuseExisting: true } },
    );
    const first = await detect(req);
    const again = await detect(req);
    expect(again.annotated).toMatchObject({ reused: true, object: first.annotated!.object });
    expect(again.detections).toEqual(first.detections);
    expect(again.timings!.inferenceMs).toBe(0);
  });

  it('writes nothing when draw_boxes is false', async () => {
    await s3.storage.write({ bucket: 'imageflow', key: 'photos/coffee.png' }, photo('coffee'), 'image/png');
    const r = await detect(detectRequest({ object: { bucket: 'imageflow', key: 'photos/coffee.png' } }, { drawBoxes: false }));
    expect(r.detections.length).toBeGreaterThan(0);
    expect(r.annotated).toBeUndefined();
    expect(r.sidecar).toBeUndefined();
    expect(await s3.storage.list('imageflow', 'derived/photos/coffee')).toEqual([]);
  });
});

describe('models and health', () => {
  it('lists the embedded model as the ready default', async () => {
    const { models } = await call(client, client.listModels, {});
    expect(models).toHaveLength(1);
    expect(models[0]).toMatchObject({ name: 'centernet', backend: 'embedded', decoder: 'centernet', inputWidth: 512, inputHeight: 512, isDefault: true, ready: true });
    expect(models[0].labels).toHaveLength(80);
    expect(models[0].labels.slice(0, 4)).toEqual(['person', 'bicycle', 'car', 'motorcycle']);
    expect(await healthOf(svc.port, 'imageflow.v1.AiDetectionService')).toBe('SERVING');
  });
});

describe('bad input', () => {
  const code = (req: DetectRequest) => codeOf(client, client.detect, req);
  const errorOf = (req: DetectRequest) => detect(req).then(() => undefined, (e: { code: number; details: string }) => e.details);

  it('refuses broken images and parameters with INVALID_ARGUMENT', async () => {
    const good = photo('coffee');
    expect(await code(detectRequest({ data: Buffer.alloc(0) }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: Buffer.from('not an image at all') }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: good.subarray(0, 2000) }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: await declaredDimensions(100_000, 100_000) }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest(undefined))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: good }, { confidenceThreshold: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: good }, { iouThreshold: -0.5 }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: good }, { maxDetections: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await code(detectRequest({ data: good }, { maxDetections: 1001 }))).toBe('INVALID_ARGUMENT');
    expect(await errorOf(detectRequest({ data: good }, { classes: ['person', 'unicorn'] }))).toMatch(/"unicorn" unknown to model "centernet"; valid classes: person, bicycle, .*toothbrush/);
  });

  it('answers NOT_FOUND for an unknown model, listing the known ones', async () => {
    expect(await code(detectRequest({ data: photo('coffee') }, { model: 'yolo-nonexistent' }))).toBe('NOT_FOUND');
    expect(await errorOf(detectRequest({ data: photo('coffee') }, { model: 'yolo-nonexistent' }))).toMatch(/model "yolo-nonexistent" is unknown; known models: centernet/);
  });
});
