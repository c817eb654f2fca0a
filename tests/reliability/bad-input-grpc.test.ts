// The generated hostile/odd corpus straight over gRPC to resize and filter (the basics — zero
// bytes, random bytes, the PNG bomb, bad keys and sizes — are in tests/services/bad-input.test.ts).
// Odd but valid images succeed and decode; broken ones get INVALID_ARGUMENT in bounded time;
// hostile SVGs reach neither the network nor the file system; the services stay up.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { ImageFormat, OutputDelivery } from '../../services/shared/gen/imageflow/v1/common.js';
import { FilterType, type FilterRequest, type FilterServiceClient } from '../../services/shared/gen/imageflow/v1/filter.js';
import type { ResizeRequest, ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { makePhoto } from '../support/images.js';
import { call, codeOf, filterClient, resizeClient, startService } from '../support/services.js';
import { brokenImages, hostileSvgs, oddValidImages, orientedQuadrants, type CorpusCase } from './support/corpus.js';

let resizeProc: ServiceProcess;
let filterProc: ServiceProcess;
let svgProc: ServiceProcess;
let resize: ResizeServiceClient;
let filter: FilterServiceClient;
let svgResize: ResizeServiceClient;
let probe: Server;
const probeHits: string[] = [];
let probeUrl: string;
let valid: CorpusCase[];
let broken: Awaited<ReturnType<typeof brokenImages>>;

beforeAll(async () => {
  probe = createServer((req, res) => (probeHits.push(req.url ?? ''), res.end()));
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  probeUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  // No storage: inline bytes only, which is all this corpus needs.
  const env = { METRICS_PORT: '0' };
  [resizeProc, filterProc, svgProc, valid, broken] = await Promise.all([
    startService('resize', env),
    startService('filter', env),
    startService('resize', { ...env, ALLOW_SVG_INPUT: 'true' }),
    oddValidImages(),
    brokenImages(),
  ]);
  resize = resizeClient(resizeProc.port);
  filter = filterClient(filterProc.port);
  svgResize = resizeClient(svgProc.port);
});

afterAll(async () => {
  for (const c of [resize, filter, svgResize]) c?.close();
  await Promise.all([resizeProc?.stop(), filterProc?.stop(), svgProc?.stop()]);
  await new Promise((r) => probe?.close(r));
});

const out = (format = ImageFormat.IMAGE_FORMAT_UNSPECIFIED) => ({
  delivery: OutputDelivery.OUTPUT_DELIVERY_INLINE,
  bucket: '',
  key: '',
  format,
  quality: 0,
  reuseExisting: false,
});
const resizeReq = (data: Buffer, over: Partial<ResizeRequest> = {}): ResizeRequest => ({
  source: { data },
  width: 40,
  fit: 0,
  withoutEnlargement: false,
  background: '',
  output: out(),
  ...over,
});
const filterReq = (data: Buffer, over: Partial<FilterRequest> = {}): FilterRequest => ({
  source: { data },
  operations: [{ type: FilterType.FILTER_TYPE_SHARPEN, intensity: 1 }],
  output: out(),
  ...over,
});

describe('odd but valid images succeed and the output decodes', () => {
  it('every case, on resize and filter', async () => {
    const sizes: Record<string, string> = {};
    for (const c of valid) {
      // Inside a 40x40 box (fit unspecified = inside), so the 16000x2 strip stays a strip.
      const r = await call(resize, resize.resize, resizeReq(c.data, { width: 40, height: 40 }));
      const f = await call(filter, filter.filter, filterReq(c.data));
      for (const o of [r.output!, f.output!]) {
        const meta = await sharp(o.data).metadata();
        expect([meta.width, meta.height], c.name).toEqual([o.width, o.height]);
      }
      sizes[c.name] = `${r.output!.width}x${r.output!.height}`;
    }
    expect(sizes).toMatchObject({ 'CMYK JPEG': '40x27', '16-bit PNG': '40x27', 'very wide (16000x2)': '40x1', 'very tall (2x16000)': '1x40', '1x1 GIF': '40x40' });
  });

  it('animated GIF and WebP come out as their first frame, upright and decodable', async () => {
    for (const name of ['animated GIF (4 frames)', 'animated WebP (4 frames)']) {
      const c = valid.find((v) => v.name === name)!;
      const r = await call(resize, resize.resize, resizeReq(c.data, { width: 24, output: out(ImageFormat.IMAGE_FORMAT_PNG) }));
      expect([r.output!.width, r.output!.height], name).toEqual([24, 16]);
    }
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('EXIF orientation %i comes out upright', async (orientation) => {
    const r = await call(resize, resize.resize, resizeReq(await orientedQuadrants(orientation), { width: 100, output: out(ImageFormat.IMAGE_FORMAT_PNG) }));
    expect([r.output!.width, r.output!.height]).toEqual([100, 50]);
    const { data, info } = await sharp(r.output!.data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => {
      const i = (y * info.width + x) * info.channels;
      return [data[i], data[i + 1], data[i + 2]].map((v) => (v > 128 ? 1 : 0)).join('');
    };
    expect({ tl: px(10, 10), tr: px(90, 10), bl: px(10, 40), br: px(90, 40) }).toEqual({ tl: '100', tr: '010', bl: '001', br: '111' });
  });
});

describe('broken images are refused with INVALID_ARGUMENT in bounded time', () => {
  it('every case, on resize and filter', async () => {
    const seen: Record<string, string> = {};
    for (const c of broken) {
      const started = Date.now();
      const codes = [await codeOf(resize, resize.resize, resizeReq(c.data)), await codeOf(filter, filter.filter, filterReq(c.data))];
      expect(Date.now() - started, c.name).toBeLessThan(10_000);
      for (const code of codes) expect(c.mayDecode ? ['OK', 'INVALID_ARGUMENT'] : ['INVALID_ARGUMENT'], c.name).toContain(code);
      seen[c.name] = codes.join('/');
    }
    expect(Object.keys(seen)).toHaveLength(broken.length);
  });
});

describe('request values', () => {
  it.each([
    ['NaN intensity', Number.NaN],
    ['Infinity intensity', Number.POSITIVE_INFINITY],
    ['-Infinity intensity', Number.NEGATIVE_INFINITY],
    ['negative blur sigma', -3],
    ['a huge sigma', 1e308],
  ])('%s → INVALID_ARGUMENT', async (_name, intensity) => {
    const photo = await makePhoto(40, 30);
    expect(await codeOf(filter, filter.filter, filterReq(photo, { operations: [{ type: FilterType.FILTER_TYPE_BLUR, intensity }] }))).toBe('INVALID_ARGUMENT');
  });
  it.each([
    ['an unknown filter type', { operations: [{ type: 99, intensity: 1 }] }],
    ['no operations', { operations: [] }],
    ['1000 operations', { operations: Array.from({ length: 1000 }, () => ({ type: FilterType.FILTER_TYPE_GRAYSCALE })) }],
  ] as Array<[string, Partial<FilterRequest>]>)('%s → INVALID_ARGUMENT', async (_name, over) => {
    expect(await codeOf(filter, filter.filter, filterReq(await makePhoto(40, 30), over))).toBe('INVALID_ARGUMENT');
  });
});

describe('SVG (refused by default; when enabled, sandboxed)', () => {
  it('is refused by a default service', async () => {
    for (const c of hostileSvgs(probeUrl)) expect(await codeOf(resize, resize.resize, resizeReq(c.data)), c.name).toBe('INVALID_ARGUMENT');
  });

  it('with ALLOW_SVG_INPUT=true, hostile SVGs render or fail cleanly and never reach the network or files', async () => {
    const codes: Record<string, string> = {};
    for (const c of hostileSvgs(probeUrl)) {
      const code = await codeOf(svgResize, svgResize.resize, resizeReq(c.data, { output: out(ImageFormat.IMAGE_FORMAT_PNG) }));
      expect(['OK', 'INVALID_ARGUMENT'], c.name).toContain(code);
      codes[c.name] = code;
    }
    // Let any stray fetch arrive before concluding there was none.
    await new Promise((r) => setTimeout(r, 500));
    expect(probeHits).toEqual([]);
    // A file reference renders as nothing: the passwd text never makes it into the pixels.
    const fileCase = hostileSvgs(probeUrl).find((c) => c.name.includes('file'))!;
    const r = await call(svgResize, svgResize.resize, resizeReq(fileCase.data, { output: out(ImageFormat.IMAGE_FORMAT_PNG) })).catch(() => undefined);
    if (r) {
      const stats = await sharp(r.output!.data).stats();
      expect(stats.channels.every((ch) => ch.max === ch.min), 'a blank render').toBe(true);
    }
    expect(Object.keys(codes)).toHaveLength(5);
  });
});

describe('after the corpus', () => {
  it('every service still serves', async () => {
    const photo = await makePhoto(80, 60);
    expect((await call(resize, resize.resize, resizeReq(photo))).output!.width).toBe(40);
    expect((await call(filter, filter.filter, filterReq(photo))).output!.width).toBe(80);
    for (const p of [resizeProc, filterProc, svgProc]) expect(p.child.exitCode).toBeNull();
  });
});
