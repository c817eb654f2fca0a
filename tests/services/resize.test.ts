// The resize service over real gRPC on loopback, with a real S3 server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ImageFormat, OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { Fit, type ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { exifRotated, makePhoto, pixelAt, type Format } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { call, resizeClient, startService } from '../support/services.js';
import { resizedPixels } from '../../services/resize/resize.js';

let s3: TestS3;
let service: ServiceProcess;
let client: ResizeServiceClient;
let photo: Buffer; // 400x300 JPEG

beforeAll(async () => {
  s3 = await startTestS3();
  service = await startService('resize', s3.env);
  client = resizeClient(service.port);
  photo = await makePhoto(400, 300);
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await s3?.stop();
});

const resize = (req: Parameters<ResizeServiceClient['resize']>[0]) => call(client, client.resize, req);
const inline = (data: Buffer) => ({ data });
const inlineOut = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false };

async function decoded(data: Buffer) {
  const m = await sharp(data).metadata();
  return { width: m.width, height: m.height, format: m.format === 'heif' ? 'avif' : m.format };
}

describe('fit modes (400x300 into a 100x100 box)', () => {
  // Expected sizes follow sharp's documented semantics; aspect ratio kept unless fill.
  const cases: Array<[Fit, number, number]> = [
    [Fit.FIT_CONTAIN, 100, 100],
    [Fit.FIT_COVER, 100, 100],
    [Fit.FIT_FILL, 100, 100],
    [Fit.FIT_INSIDE, 100, 75],
    [Fit.FIT_OUTSIDE, 133, 100],
    [Fit.FIT_UNSPECIFIED, 100, 75],
  ];
  it.each(cases)('fit %s gives %dx%d', async (fit, w, h) => {
    const res = await resize({ source: inline(photo), width: 100, height: 100, fit, withoutEnlargement: false, output: inlineOut, background: '' });
    expect(res.output!.width).toBe(w);
    expect(res.output!.height).toBe(h);
    expect(await decoded(res.output!.data)).toMatchObject({ width: w, height: h, format: 'jpeg' });
    expect(res.output!.sizeBytes).toBe(res.output!.data.length);
    expect(res.output!.object).toBeUndefined();
  });

  it('contain pads with the background colour, cover crops', async () => {
    const contain = await resize({ source: inline(photo), width: 100, height: 100, fit: Fit.FIT_CONTAIN, withoutEnlargement: false, output: { ...inlineOut, format: ImageFormat.IMAGE_FORMAT_PNG }, background: '#00ff00' });
    // 400x300 in 100x100 leaves 12.5 px bands top and bottom.
    expect(await pixelAt(contain.output!.data, 50, 2)).toEqual([0, 255, 0]);
    const cover = await resize({ source: inline(photo), width: 100, height: 100, fit: Fit.FIT_COVER, withoutEnlargement: false, output: { ...inlineOut, format: ImageFormat.IMAGE_FORMAT_PNG }, background: '#00ff00' });
    expect(await pixelAt(cover.output!.data, 50, 2)).not.toEqual([0, 255, 0]);
  });

  it('width alone keeps the aspect ratio; withoutEnlargement keeps small images small', async () => {
    const w = await resize({ source: inline(photo), width: 200, fit: 0, withoutEnlargement: false, output: inlineOut, background: '' });
    expect([w.output!.width, w.output!.height]).toEqual([200, 150]);
    const big = await resize({ source: inline(photo), width: 800, fit: 0, withoutEnlargement: true, output: inlineOut, background: '' });
    expect([big.output!.width, big.output!.height]).toEqual([400, 300]);
    const enlarged = await resize({ source: inline(photo), width: 800, fit: 0, withoutEnlargement: false, output: inlineOut, background: '' });
    expect([enlarged.output!.width, enlarged.output!.height]).toEqual([800, 600]);
  });
});

describe('formats', () => {
  const formats: Format[] = ['jpeg', 'png', 'webp', 'avif'];
  const enumOf = { jpeg: ImageFormat.IMAGE_FORMAT_JPEG, png: ImageFormat.IMAGE_FORMAT_PNG, webp: ImageFormat.IMAGE_FORMAT_WEBP, avif: ImageFormat.IMAGE_FORMAT_AVIF };
  it.each(formats)('%s in, same format out (keep), decodable', async (format) => {
    const input = await makePhoto(160, 120, format, 7);
    const res = await resize({ source: inline(input), width: 80, fit: 0, withoutEnlargement: false, output: inlineOut, background: '' });
    expect(res.output!.format).toBe(enumOf[format]);
    expect(await decoded(res.output!.data)).toEqual({ width: 80, height: 60, format });
  });
  it.each(formats)('jpeg in, %s out', async (format) => {
    const res = await resize({ source: inline(photo), width: 64, fit: 0, withoutEnlargement: false, output: { ...inlineOut, format: enumOf[format], quality: 70 }, background: '' });
    expect(await decoded(res.output!.data)).toEqual({ width: 64, height: 48, format });
  });
});

describe('EXIF orientation', () => {
  it.each([6, 8, 3] as const)('orientation %d comes out upright', async (orientation) => {
    const input = await exifRotated(orientation);
    const res = await resize({ source: inline(input), width: 100, fit: 0, withoutEnlargement: false, output: { ...inlineOut, format: ImageFormat.IMAGE_FORMAT_PNG }, background: '' });
    expect([res.output!.width, res.output!.height]).toEqual([100, 50]);
    const [lr, , lb] = await pixelAt(res.output!.data, 10, 25);
    const [rr, , rb] = await pixelAt(res.output!.data, 90, 25);
    expect(lr).toBeGreaterThan(200); // red on the left
    expect(lb).toBeLessThan(60);
    expect(rb).toBeGreaterThan(200); // blue on the right
    expect(rr).toBeLessThan(60);
  });
});

describe('storage', () => {
  it('writes to a deterministic key; the same request twice writes one object', async () => {
    await s3.storage.write({ bucket: 'imageflow', key: 'photos/cat.jpg' }, photo, 'image/jpeg');
    const req = { source: { object: { bucket: 'imageflow', key: 'photos/cat.jpg' } }, width: 120, fit: Fit.FIT_INSIDE, withoutEnlargement: false, output: undefined, background: '' };
    const first = await resize(req);
    const second = await resize(req);
    expect(first.output!.object).toEqual(second.output!.object);
    expect(first.output!.object!.key).toMatch(/^derived\/photos\/cat\/resize-[0-9a-f]{16}\.jpg$/);
    expect(first.output!.data.length).toBe(0); // stored, not returned
    const keys = await s3.storage.list('imageflow', 'derived/photos/cat/');
    expect(keys).toEqual([first.output!.object!.key]);
    const stored = await s3.storage.read(first.output!.object as { bucket: string; key: string }, 10_000_000);
    expect(await decoded(stored.data)).toEqual({ width: 120, height: 90, format: 'jpeg' });
    // The input is untouched.
    expect((await s3.storage.read({ bucket: 'imageflow', key: 'photos/cat.jpg' }, 10_000_000)).data.equals(photo)).toBe(true);
  });

  it('other parameters give another key; an explicit key is honoured', async () => {
    await s3.storage.write({ bucket: 'imageflow', key: 'photos/dog.png' }, await makePhoto(300, 200, 'png', 3), 'image/png');
    const base = { source: { object: { bucket: 'imageflow', key: 'photos/dog.png' } }, fit: 0, withoutEnlargement: false, background: '' };
    const a = await resize({ ...base, width: 100, output: undefined });
    const b = await resize({ ...base, width: 101, output: undefined });
    expect(a.output!.object!.key).not.toBe(b.output!.object!.key);
    const named = await resize({ ...base, width: 50, output: { ...inlineOut, delivery: OutputDelivery.OUTPUT_DELIVERY_STORE, key: 'thumbs/dog.webp', format: ImageFormat.IMAGE_FORMAT_WEBP } });
    expect(named.output!.object).toEqual({ bucket: 'imageflow', key: 'thumbs/dog.webp' });
    expect(await decoded((await s3.storage.read({ bucket: 'imageflow', key: 'thumbs/dog.webp' }, 1e7)).data)).toMatchObject({ format: 'webp', width: 50 });
  });

  it('reuse_existing serves the stored output without recomputing, and only for the same input version', async () => {
    const loc = { bucket: 'imageflow', key: 'photos/reuse.jpg' };
    await s3.storage.write(loc, photo, 'image/jpeg');
    const req = { source: { object: loc }, width: 90, fit: 0, withoutEnlargement: false, background: '', output: { ...inlineOut, delivery: 0, reuseExisting: true } };
    const first = await resize(req);
    expect(first.output!.reused).toBe(false);
    const again = await resize(req);
    expect(again.output!.reused).toBe(true);
    expect(again.output!.object).toEqual(first.output!.object);
    expect([again.output!.width, again.output!.height]).toEqual([90, 68]);
    // A new version of the input is recomputed into the same key.
    await s3.storage.write(loc, await makePhoto(400, 300, 'jpeg', 99), 'image/jpeg');
    const changed = await resize(req);
    expect(changed.output!.reused).toBe(false);
    expect(changed.output!.object).toEqual(first.output!.object);
  });
});

describe('resizedPixels (the output size estimate that picks the JPEG encoder mode)', () => {
  const p = (over: Partial<Parameters<typeof resizedPixels>[0]>) => ({ fit: 'inside' as const, withoutEnlargement: false, ...over });
  it('scales to fit inside the box, or to cover it for outside', () => {
    expect(resizedPixels(p({ width: 2048 }), 5664, 4248)).toBe(2048 * 1536);
    expect(resizedPixels(p({ width: 1000, height: 1000 }), 4000, 2000)).toBe(1000 * 500);
    expect(resizedPixels(p({ width: 1000, height: 1000, fit: 'outside' }), 4000, 2000)).toBe(2000 * 1000);
  });
  it('is the box for fill, cover and contain; never larger than the input without enlargement', () => {
    expect(resizedPixels(p({ width: 300, height: 200, fit: 'cover' }), 4000, 3000)).toBe(60_000);
    expect(resizedPixels(p({ width: 8000, withoutEnlargement: true }), 4000, 3000)).toBe(12_000_000);
    expect(resizedPixels(p({ width: 8000, height: 8000, fit: 'fill', withoutEnlargement: true }), 4000, 3000)).toBe(12_000_000);
  });
});
