// Hostile and broken input gets the right status code, in bounded time, and the services keep
// serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { FilterType, type FilterServiceClient } from '../../services/shared/gen/imageflow/v1/filter.js';
import type { ResizeRequest, ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { declaredDimensions, makePhoto, rng } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { call, codeOf, filterClient, resizeClient, startService } from '../support/services.js';

let s3: TestS3;
let resizeProc: ServiceProcess;
let filterProc: ServiceProcess;
let resize: ResizeServiceClient;
let filter: FilterServiceClient;
let photo: Buffer;

beforeAll(async () => {
  s3 = await startTestS3();
  // A small message limit so the RESOURCE_EXHAUSTED path is cheap to reach.
  const env = { ...s3.env, GRPC_MAX_MESSAGE_BYTES: String(2 * 1024 * 1024), MAX_INPUT_BYTES: String(2 * 1024 * 1024) };
  [resizeProc, filterProc] = await Promise.all([startService('resize', env), startService('filter', env)]);
  resize = resizeClient(resizeProc.port);
  filter = filterClient(filterProc.port);
  photo = await makePhoto(120, 90);
});

afterAll(async () => {
  resize?.close();
  filter?.close();
  await Promise.all([resizeProc?.stop(), filterProc?.stop()]);
  await s3?.stop();
});

const out = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: 0, quality: 0, reuseExisting: false };
const resizeReq = (over: Partial<ResizeRequest>): ResizeRequest => ({
  source: { data: photo },
  width: 50,
  fit: 0,
  withoutEnlargement: false,
  output: out,
  background: '',
  ...over,
});

async function truncatedJpeg() {
  const big = await makePhoto(300, 200);
  return big.subarray(0, Math.floor(big.length / 2));
}

function randomBytes(n: number) {
  const r = rng(42);
  return Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
}

describe('image bytes', () => {
  const cases: Array<{ name: string; make: () => Promise<Buffer> | Buffer; code: string }> = [
    { name: 'zero bytes', make: () => Buffer.alloc(0), code: 'INVALID_ARGUMENT' },
    { name: 'random bytes', make: () => randomBytes(4096), code: 'INVALID_ARGUMENT' },
    { name: 'a truncated JPEG', make: truncatedJpeg, code: 'INVALID_ARGUMENT' },
    { name: 'a decompression bomb (1x1 file declaring 50000x50000)', make: () => declaredDimensions(50_000, 50_000), code: 'INVALID_ARGUMENT' },
    {
      name: 'an SVG (refused: it can reference files and URLs)',
      make: () => Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="file:///etc/passwd"/></svg>'),
      code: 'INVALID_ARGUMENT',
    },
    { name: 'an inline image over the message limit', make: () => Buffer.alloc(3 * 1024 * 1024, 1), code: 'RESOURCE_EXHAUSTED' },
  ];
  it.each(cases)('$name → $code on resize and filter', async ({ make, code }) => {
    const data = await make();
    const started = Date.now();
    expect(await codeOf(resize, resize.resize, resizeReq({ source: { data } }))).toBe(code);
    expect(await codeOf(filter, filter.filter, { source: { data }, operations: [{ type: FilterType.FILTER_TYPE_BLUR, intensity: 2 }], output: out })).toBe(code);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('the bomb is refused with a message that names the limit', async () => {
    await expect(call(resize, resize.resize, resizeReq({ source: { data: await declaredDimensions(50_000, 50_000) } }))).rejects.toMatchObject({
      details: expect.stringMatching(/50000x50000 .* over the limit of 50000000; send a smaller image or raise LIMIT_INPUT_PIXELS/),
    });
  });
});

describe('parameters', () => {
  it.each([
    ['negative width', { width: -5 }],
    ['zero width', { width: 0 }],
    // (NaN cannot be encoded in an int32 field; NaN is covered on double fields and at the gateway.)
    ['the largest int32', { width: 2 ** 31 - 1 }],
    ['no size at all', { width: undefined, height: undefined }],
    ['a size over 16384', { width: 20_000 }],
    ['an unknown fit', { fit: 42 }],
    ['an unknown output format', { output: { ...out, format: 9 } }],
    ['an unknown delivery', { output: { ...out, delivery: 7 } }],
    ['quality 101', { output: { ...out, quality: 101 } }],
    ['a bad background colour', { background: 'red' }],
    ['no source', { source: undefined }],
  ] as Array<[string, Partial<ResizeRequest>]>)('%s → INVALID_ARGUMENT', async (_name, over) => {
    expect(await codeOf(resize, resize.resize, resizeReq(over))).toBe('INVALID_ARGUMENT');
  });

  it('messages say what to change', async () => {
    await expect(call(resize, resize.resize, resizeReq({ width: -5 }))).rejects.toMatchObject({ details: 'width must be an integer from 1 to 16384, got -5' });
  });
});

describe('objects', () => {
  it('a missing object → NOT_FOUND naming it', async () => {
    await expect(call(resize, resize.resize, resizeReq({ source: { object: { bucket: 'imageflow', key: 'nope/missing.jpg' } } }))).rejects.toMatchObject({
      code: 5,
      details: 'object s3://imageflow/nope/missing.jpg does not exist',
    });
  });
  it('a bucket that does not exist → NOT_FOUND naming it', async () => {
    await expect(call(resize, resize.resize, resizeReq({ source: { object: { bucket: 'no-such-bucket', key: 'a.jpg' } } }))).rejects.toMatchObject({
      code: 5,
      details: 'bucket "no-such-bucket" does not exist',
    });
  });
  it.each([
    ['a key with ..', { bucket: 'imageflow', key: 'a/../b.jpg' }],
    ['an absolute key', { bucket: 'imageflow', key: '/etc/passwd' }],
    ['a key with control characters', { bucket: 'imageflow', key: 'a\u0000b' }],
    ['a 2 kB key', { bucket: 'imageflow', key: 'k'.repeat(2048) }],
    ['an invalid bucket name', { bucket: 'Not_A_Bucket', key: 'a.jpg' }],
  ])('%s → INVALID_ARGUMENT', async (_name, object) => {
    expect(await codeOf(resize, resize.resize, resizeReq({ source: { object } }))).toBe('INVALID_ARGUMENT');
  });
  it('an object output to a bucket that does not exist → NOT_FOUND, nothing written', async () => {
    const code = await codeOf(resize, resize.resize, resizeReq({ output: { ...out, delivery: OutputDelivery.OUTPUT_DELIVERY_STORE, bucket: 'missing-bucket', key: 'x.jpg' } }));
    expect(code).toBe('NOT_FOUND');
  });
});

describe('after all that', () => {
  it('both services still serve', async () => {
    const r = await call(resize, resize.resize, resizeReq({}));
    expect(r.output!.width).toBe(50);
    const f = await call(filter, filter.filter, { source: { data: photo }, operations: [{ type: FilterType.FILTER_TYPE_GRAYSCALE }], output: out });
    expect(f.output!.width).toBe(120);
    expect(resizeProc.child.exitCode).toBeNull();
    expect(filterProc.child.exitCode).toBeNull();
  });
});
