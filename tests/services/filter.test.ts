// The filter service over real gRPC on loopback.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ImageFormat, OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { FilterType, type FilterOperation, type FilterServiceClient } from '../../services/shared/gen/imageflow/v1/filter.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { call, codeOf, filterClient, startService } from '../support/services.js';

let s3: TestS3;
let service: ServiceProcess;
let client: FilterServiceClient;
let photo: Buffer;

beforeAll(async () => {
  s3 = await startTestS3();
  service = await startService('filter', s3.env);
  client = filterClient(service.port);
  photo = await makePhoto(240, 160, 'png', 5);
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await s3?.stop();
});

const pngOut = { delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE, bucket: '', key: '', format: ImageFormat.IMAGE_FORMAT_PNG, quality: 0, reuseExisting: false };
const op = (type: FilterType, intensity?: number): FilterOperation => ({ type, intensity });
const filter = (operations: FilterOperation[], input = photo) => call(client, client.filter, { source: { data: input }, operations, output: pngOut });

/** Per-channel mean and standard deviation, and mean absolute difference between neighbours. */
async function stats(image: Buffer) {
  const s = await sharp(image).stats();
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let edge = 0;
  for (let i = 0; i + info.channels < data.length; i += info.channels) edge += Math.abs(data[i] - data[i + info.channels]);
  return {
    mean: s.channels.slice(0, 3).map((c) => c.mean),
    std: s.channels.slice(0, 3).map((c) => c.stdev),
    edge: edge / (data.length / info.channels),
    channelSpread: Math.max(...s.channels.slice(0, 3).map((c) => c.mean)) - Math.min(...s.channels.slice(0, 3).map((c) => c.mean)),
  };
}

const avg = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe('each filter type does what its intensity says', () => {
  it('blur smooths (sigma): neighbour differences drop, more with larger sigma', async () => {
    const base = await stats(photo);
    const light = await stats((await filter([op(FilterType.FILTER_TYPE_BLUR, 1)])).output!.data);
    const heavy = await stats((await filter([op(FilterType.FILTER_TYPE_BLUR, 8)])).output!.data);
    expect(light.edge).toBeLessThan(base.edge);
    expect(heavy.edge).toBeLessThan(light.edge);
  });

  it('sharpen raises neighbour differences', async () => {
    const base = await stats(photo);
    const sharp2 = await stats((await filter([op(FilterType.FILTER_TYPE_SHARPEN, 2)])).output!.data);
    expect(sharp2.edge).toBeGreaterThan(base.edge);
  });

  it('brightness is a multiplier: 1 is neutral, above brightens, below darkens', async () => {
    const base = avg((await stats(photo)).mean);
    const neutral = avg((await stats((await filter([op(FilterType.FILTER_TYPE_BRIGHTNESS, 1)])).output!.data)).mean);
    const bright = avg((await stats((await filter([op(FilterType.FILTER_TYPE_BRIGHTNESS, 1.5)])).output!.data)).mean);
    const dark = avg((await stats((await filter([op(FilterType.FILTER_TYPE_BRIGHTNESS, 0.5)])).output!.data)).mean);
    expect(Math.abs(neutral - base)).toBeLessThan(2);
    expect(bright).toBeGreaterThan(base + 10);
    expect(dark).toBeLessThan(base - 10);
  });

  it('contrast is a multiplier around mid-grey: the spread grows above 1 and shrinks below', async () => {
    const base = avg((await stats(photo)).std);
    const more = avg((await stats((await filter([op(FilterType.FILTER_TYPE_CONTRAST, 1.5)])).output!.data)).std);
    const less = avg((await stats((await filter([op(FilterType.FILTER_TYPE_CONTRAST, 0.5)])).output!.data)).std);
    expect(more).toBeGreaterThan(base * 1.2);
    expect(less).toBeLessThan(base * 0.7);
  });

  it('saturation 0 is grey; above 1 spreads the channels apart', async () => {
    const base = (await stats(photo)).channelSpread;
    const grey = await stats((await filter([op(FilterType.FILTER_TYPE_SATURATION, 0)])).output!.data);
    const vivid = await stats((await filter([op(FilterType.FILTER_TYPE_SATURATION, 2)])).output!.data);
    expect(grey.channelSpread).toBeLessThan(2);
    expect(vivid.channelSpread).toBeGreaterThan(base);
  });

  it('grayscale makes all channels equal; negate inverts', async () => {
    const grey = (await filter([op(FilterType.FILTER_TYPE_GRAYSCALE)])).output!.data;
    const { data } = await sharp(grey).raw().toBuffer({ resolveWithObject: true });
    for (let i = 0; i < 300; i += 3) expect(new Set([data[i], data[i + 1], data[i + 2]]).size).toBe(1);
    const neg = await stats((await filter([op(FilterType.FILTER_TYPE_NEGATE)])).output!.data);
    const base = await stats(photo);
    neg.mean.forEach((m, i) => expect(m).toBeCloseTo(255 - base.mean[i], 0));
  });
});

describe('order', () => {
  it('the order given is the order applied', async () => {
    // Brightness with clipping does not commute with contrast, so the two orders must differ.
    const a = (await filter([op(FilterType.FILTER_TYPE_BRIGHTNESS, 2), op(FilterType.FILTER_TYPE_CONTRAST, 0.3)])).output!.data;
    const b = (await filter([op(FilterType.FILTER_TYPE_CONTRAST, 0.3), op(FilterType.FILTER_TYPE_BRIGHTNESS, 2)])).output!.data;
    const ma = avg((await stats(a)).mean);
    const mb = avg((await stats(b)).mean);
    // brightness x2 clips many pixels at 255 before contrast pulls them to mid-grey: a darker result.
    expect(Math.abs(ma - mb)).toBeGreaterThan(20);
    // And each order matches doing the steps one call at a time.
    const step1 = (await filter([op(FilterType.FILTER_TYPE_BRIGHTNESS, 2)])).output!.data;
    const step2 = (await filter([op(FilterType.FILTER_TYPE_CONTRAST, 0.3)], step1)).output!.data;
    expect(Math.abs(avg((await stats(step2)).mean) - ma)).toBeLessThan(1);
  });
});

describe('validation', () => {
  it.each([
    ['no operations', [], 'INVALID_ARGUMENT'],
    ['unknown type', [op(99 as FilterType)], 'INVALID_ARGUMENT'],
    ['unspecified type', [op(FilterType.FILTER_TYPE_UNSPECIFIED)], 'INVALID_ARGUMENT'],
    ['brightness without intensity', [op(FilterType.FILTER_TYPE_BRIGHTNESS)], 'INVALID_ARGUMENT'],
    ['negative blur', [op(FilterType.FILTER_TYPE_BLUR, -1)], 'INVALID_ARGUMENT'],
    ['NaN contrast', [op(FilterType.FILTER_TYPE_CONTRAST, Number.NaN)], 'INVALID_ARGUMENT'],
    ['infinite saturation', [op(FilterType.FILTER_TYPE_SATURATION, Number.POSITIVE_INFINITY)], 'INVALID_ARGUMENT'],
    ['grayscale with an intensity', [op(FilterType.FILTER_TYPE_GRAYSCALE, 2)], 'INVALID_ARGUMENT'],
    ['33 operations', Array.from({ length: 33 }, () => op(FilterType.FILTER_TYPE_NEGATE)), 'INVALID_ARGUMENT'],
  ] as Array<[string, FilterOperation[], string]>)('%s → %s', async (_name, operations, code) => {
    expect(await codeOf(client, client.filter, { source: { data: photo }, operations, output: pngOut })).toBe(code);
  });

  it('says what to change', async () => {
    await expect(filter([op(FilterType.FILTER_TYPE_BLUR), op(FilterType.FILTER_TYPE_BRIGHTNESS)])).rejects.toMatchObject({
      details: 'operations[1] (brightness): intensity is required: a multiplier where 1 is neutral, e.g. 1.2',
    });
  });

  it('defaults apply where documented (blur sigma 3)', async () => {
    const dflt = (await filter([op(FilterType.FILTER_TYPE_BLUR)])).output!.data;
    const three = (await filter([op(FilterType.FILTER_TYPE_BLUR, 3)])).output!.data;
    expect(dflt.equals(three)).toBe(true);
  });
});
