// Hostile and odd input through the gateway (HTTP/JSON and raw modes) to real services: every
// case gets a 4xx with the one JSON error shape (or a 200 for odd-but-valid images), in bounded
// time, and everything keeps serving. Complements tests/gateway (contract) and
// bad-input-grpc.test.ts (the same corpus straight over gRPC).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { declaredDimensions, makePhoto, rng } from '../support/images.js';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { startService } from '../support/services.js';
import { type Answer, type RunningGateway, postRaw, request, startGateway } from '../gateway/support.js';
import { brokenImages, mutate, oddValidImages, orientedQuadrants } from './support/corpus.js';
import { MEMORY_LIMIT_MIB } from './support/soak-runner.js';

let s3: TestS3;
let resize: ServiceProcess;
let filter: ServiceProcess;
let gw: RunningGateway;
let photo: Buffer;

beforeAll(async () => {
  s3 = await startTestS3(['imageflow', 'other-bucket']);
  const env = { ...s3.env, METRICS_PORT: '0' };
  [resize, filter] = await Promise.all([startService('resize', env), startService('filter', env)]);
  gw = await startGateway({
    ...s3.env,
    RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}`,
    FILTER_GRPC_ENDPOINT: `127.0.0.1:${filter.port}`,
    ALLOWED_BUCKETS: 'imageflow',
    MAX_BODY_BYTES: String(4 * 1024 * 1024),
  });
  photo = await makePhoto(120, 90);
  await s3.storage.write({ bucket: 'imageflow', key: 'gw-bad/in.jpg' }, photo, 'image/jpeg');
  await s3.storage.write({ bucket: 'other-bucket', key: 'secret.jpg' }, photo, 'image/jpeg');
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([resize?.stop(), filter?.stop()]);
  await s3?.stop();
});

const BOUND_MS = 10_000;
function expectShapedError(a: Answer, status: number | number[], what: string): void {
  const statuses = Array.isArray(status) ? status : [status];
  expect(statuses, `${what}: ${a.status} ${a.bytes.toString().slice(0, 200)}`).toContain(a.status);
  expect(a.json?.error, what).toMatchObject({ code: expect.any(String), message: expect.any(String), requestId: expect.any(String) });
  expect(a.ms, what).toBeLessThan(BOUND_MS);
}
const postBody = (path: string, body: string | Buffer, contentType = 'application/json') => request(gw.base, path, { body, contentType });

describe('JSON bodies', () => {
  it.each([
    ['a body over MAX_BODY_BYTES (5 MB of JSON)', 413, () => JSON.stringify({ input: { data: 'A'.repeat(5 * 1024 * 1024) }, width: 10 })],
    ['deeply nested JSON (100k levels)', 400, () => '['.repeat(100_000) + ']'.repeat(100_000)],
    ['deeply nested JSON in a field', 400, () => `{"input":{"key":"a.jpg"},"width":${'['.repeat(50_000)}1${']'.repeat(50_000)}}`],
    ['malformed JSON', 400, () => '{"input": {"key": "a.jpg"}, "width": 10'],
    ['JSON that is not an object', 400, () => '"resize me"'],
    ['an empty body', 400, () => ''],
    ['a prototype-pollution attempt', 400, () => '{"input":{"key":"a.jpg"},"width":10,"__proto__":{"admin":true}}'],
    ['a constructor-pollution attempt', 400, () => '{"input":{"key":"a.jpg"},"width":10,"constructor":{"prototype":{"admin":true}}}'],
  ] as Array<[string, number, () => string]>)('%s → %i', async (name, status, make) => {
    expectShapedError(await postBody('/v1/resize', make()), status, name);
  });

  it.each([
    ['width as a string', { input: { key: 'gw-bad/in.jpg' }, width: '100' }],
    ['width NaN (as null)', { input: { key: 'gw-bad/in.jpg' }, width: null }],
    ['width 1e309 (Infinity)', '{"input":{"key":"gw-bad/in.jpg"},"width":1e309}'],
    ['negative width', { input: { key: 'gw-bad/in.jpg' }, width: -1 }],
    ['fractional width', { input: { key: 'gw-bad/in.jpg' }, width: 10.5 }],
    ['an unknown fit', { input: { key: 'gw-bad/in.jpg' }, width: 10, fit: 'stretch-ish' }],
    ['an unknown format', { input: { key: 'gw-bad/in.jpg' }, width: 10, output: { format: 'bmp' } }],
    ['an unknown field', { input: { key: 'gw-bad/in.jpg' }, width: 10, sneaky: true }],
    ['both input forms', { input: { key: 'gw-bad/in.jpg', data: 'AAAA' }, width: 10 }],
    ['input data that is not base64', { input: { data: '!!!not base64!!!' }, width: 10 }],
    ['a key with ..', { input: { key: 'gw-bad/../../etc/passwd' }, width: 10 }],
    ['an absolute key', { input: { key: '/etc/passwd' }, width: 10 }],
    ['a key with control characters', { input: { key: 'a\u0001b\u0000.jpg' }, width: 10 }],
    ['a 2 kB key', { input: { key: 'k'.repeat(2048) }, width: 10 }],
    ['an output key with ..', { input: { key: 'gw-bad/in.jpg' }, width: 10, output: { key: '../escape.jpg' } }],
    ['a bucket outside the allowed list', { input: { bucket: 'other-bucket', key: 'secret.jpg' }, width: 10 }],
    ['an output bucket outside the allowed list', { input: { key: 'gw-bad/in.jpg' }, width: 10, output: { bucket: 'other-bucket' } }],
    ['an invalid bucket name', { input: { bucket: 'Bad_Bucket', key: 'a.jpg' }, width: 10 }],
  ] as Array<[string, unknown]>)('resize with %s → 400/403', async (name, body) => {
    const a = await postBody('/v1/resize', typeof body === 'string' ? body : JSON.stringify(body));
    expectShapedError(a, [400, 403], name);
  });

  it.each([
    ['an unknown op', { input: { key: 'gw-bad/in.jpg' }, ops: [{ type: 'explode' }] }],
    ['a NaN-ish intensity (string)', { input: { key: 'gw-bad/in.jpg' }, ops: [{ type: 'blur', intensity: 'NaN' }] }],
    ['a negative sigma', { input: { key: 'gw-bad/in.jpg' }, ops: [{ type: 'blur', intensity: -2 }] }],
    ['a huge sigma', { input: { key: 'gw-bad/in.jpg' }, ops: [{ type: 'blur', intensity: 1e300 }] }],
    ['1000 ops', { input: { key: 'gw-bad/in.jpg' }, ops: Array.from({ length: 1000 }, () => ({ type: 'grayscale' })) }],
    ['ops not an array', { input: { key: 'gw-bad/in.jpg' }, ops: { type: 'blur' } }],
  ] as Array<[string, unknown]>)('filter with %s → 400', async (name, body) => {
    expectShapedError(await postBody('/v1/filter', JSON.stringify(body)), 400, name);
  });

  it('a pipeline with 10 000 steps and one with an unknown step → 400', async () => {
    const many = { input: { key: 'gw-bad/in.jpg' }, steps: Array.from({ length: 10_000 }, () => ({ op: 'resize', width: 10 })) };
    expectShapedError(await postBody('/v1/pipeline', JSON.stringify(many)), 400, '10k steps');
    expectShapedError(await postBody('/v1/pipeline', JSON.stringify({ input: { key: 'gw-bad/in.jpg' }, steps: [{ op: 'rm -rf' }] })), 400, 'unknown step');
  });

  it('a missing object → 404 in the error shape', async () => {
    expectShapedError(await postBody('/v1/resize', JSON.stringify({ input: { key: 'gw-bad/missing.jpg' }, width: 10 })), 404, 'missing object');
  });
});

describe('image bytes (raw mode and inline JSON)', () => {
  it('broken and hostile images → 400 (raw and inline), never 5xx', async () => {
    const cases = [
      { name: 'zero bytes', data: Buffer.alloc(0), mayDecode: false },
      { name: 'random bytes', data: Buffer.from(Array.from({ length: 4096 }, ((r) => () => Math.floor(r() * 256))(rng(9)))), mayDecode: false },
      { name: 'decompression bomb (50000x50000 declared)', data: await declaredDimensions(50_000, 50_000), mayDecode: false },
      { name: 'SVG with a script and a file reference', data: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><script>alert(1)</script><image href="file:///etc/passwd"/></svg>'), mayDecode: false },
      ...(await brokenImages()).map((c) => ({ ...c, mayDecode: Boolean(c.mayDecode) })),
    ];
    for (const c of cases) {
      const raw = await postRaw(gw.base, '/v1/resize?width=20', c.data, 'image/png');
      const inline = await postBody('/v1/resize', JSON.stringify({ input: { data: c.data.toString('base64') || 'AA==' }, width: 20 }));
      for (const a of [raw, inline]) {
        if (c.mayDecode && a.status === 200) continue;
        expectShapedError(a, [400, 413], c.name);
      }
    }
  });

  it('odd but valid images → 200 and a decodable image (raw mode)', async () => {
    for (const c of await oddValidImages()) {
      const a = await postRaw(gw.base, '/v1/resize?width=40&height=40', c.data, 'image/png');
      expect(a.status, `${c.name}: ${a.bytes.toString().slice(0, 200)}`).toBe(200);
      const meta = await sharp(a.bytes).metadata();
      expect(Math.max(meta.width!, meta.height!), c.name).toBeLessThanOrEqual(40);
    }
  });

  it('EXIF orientations 1–8 come out upright through the gateway', async () => {
    for (let o = 1; o <= 8; o++) {
      const a = await postRaw(gw.base, '/v1/resize?width=100&format=png', await orientedQuadrants(o), 'image/jpeg');
      expect(a.status, `orientation ${o}`).toBe(200);
      const { data, info } = await sharp(a.bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height], `orientation ${o}`).toEqual([100, 50]);
      const px = (x: number, y: number) => [0, 1, 2].map((c) => (data[(y * info.width + x) * info.channels + c] > 128 ? 1 : 0)).join('');
      expect([px(10, 10), px(90, 10), px(10, 40), px(90, 40)], `orientation ${o}`).toEqual(['100', '010', '001', '111']);
    }
  });

  it('a bounded fuzz (120 seeded mutations, raw mode) → only 200 or 400, in bounded time', async () => {
    const base = await makePhoto(96, 64, 'jpeg', 11);
    const seen: Record<number, number> = {};
    for (let i = 0; i < 120; i++) {
      const { data } = mutate(base, 4242 + i);
      const a = await postRaw(gw.base, '/v1/resize?width=32', data, 'image/jpeg');
      seen[a.status] = (seen[a.status] ?? 0) + 1;
      expect([200, 400], `case ${i}: ${a.status} ${a.bytes.toString().slice(0, 200)}`).toContain(a.status);
      expect(a.ms).toBeLessThan(BOUND_MS);
    }
    console.log(`gateway fuzz ${JSON.stringify(seen)}`);
  });
});

describe('after all that', () => {
  it('the gateway and services still serve', async () => {
    const a = await postBody('/v1/resize', JSON.stringify({ input: { key: 'gw-bad/in.jpg' }, width: 30 }));
    expect(a.status).toBe(200);
    expect((await request(gw.base, '/ready')).status).toBe(200);
    for (const p of [resize, filter, gw.process]) expect(p.child.exitCode).toBeNull();
    // Bounded memory: every process is still well inside its Deployment limit.
    const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    expect(rss(resize.child.pid!)).toBeLessThan(MEMORY_LIMIT_MIB.resize);
    expect(rss(filter.child.pid!)).toBeLessThan(MEMORY_LIMIT_MIB.filter);
    expect(rss(gw.process.child.pid!)).toBeLessThan(MEMORY_LIMIT_MIB.gateway);
  });
});
