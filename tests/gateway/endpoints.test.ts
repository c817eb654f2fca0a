// The gateway over real HTTP against real resize, filter and detection processes and a real S3
// server: every endpoint in JSON and raw mode, the fused pipeline (keys equal to the unfused
// chain), validation, status mapping, body limits, auth and request ids. A second and third
// gateway process share the services (limits/auth; an in-process ResizeService built from the
// real proto that answers any status code, for codes real services cannot be made to send).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { request as httpRequest } from 'node:http';
import sharp from 'sharp';
import { startTestS3, type TestS3 } from '../support/s3.js';
import { startService } from '../support/services.js';
import { makePhoto } from '../support/images.js';
import type { ServiceProcess } from '../../services/local-stack/launcher.js';
import { ResizeServiceService, type ResizeRequest, type ResizeResponse } from '../../services/shared/gen/imageflow/v1/resize.js';
import { ImageFormat } from '../../services/shared/gen/imageflow/v1/common.js';
import { type RunningGateway, eventually, metricValue, post, postRaw, request, startGateway } from './support.js';

const BUCKET = 'imageflow';
const OTHER_BUCKET = 'elsewhere';
const KEYS = ['key-one-0123456789', 'key-two-abcdefghij', 'key-three-limited'];

let s3: TestS3;
let services: ServiceProcess[] = [];
let gw: RunningGateway;
let guarded: RunningGateway;
let fakeGw: RunningGateway;
let fake: grpc.Server;
const fakeSeen: string[] = [];
const fakeTraceparents: string[] = [];
let photo: Buffer;
let base: string;

beforeAll(async () => {
  s3 = await startTestS3([BUCKET, OTHER_BUCKET]);
  photo = await makePhoto(640, 480);
  const [resize, filter, detection] = await Promise.all([
    startService('resize', { ...s3.env, MAX_INPUT_BYTES: String(3 * 1024 * 1024) }),
    startService('filter', s3.env),
    startService('detection', s3.env),
  ]);
  services = [resize, filter, detection];
  const endpoints = {
    RESIZE_GRPC_ENDPOINT: `127.0.0.1:${resize.port}`,
    FILTER_GRPC_ENDPOINT: `127.0.0.1:${filter.port}`,
    AI_DETECTION_GRPC_ENDPOINT: `127.0.0.1:${detection.port}`,
  };
  // A ResizeService that fails with the status code given as the width (over 16: succeeds).
  fake = new grpc.Server();
  fake.addService(ResizeServiceService, {
    resize: (call: grpc.ServerUnaryCall<ResizeRequest, ResizeResponse>, cb: grpc.sendUnaryData<ResizeResponse>) => {
      fakeSeen.push(String(call.metadata.get('x-request-id')[0]));
      fakeTraceparents.push(String(call.metadata.get('traceparent')[0] ?? ''));
      const code = call.request.width ?? 0;
      if (code > 16) {
        cb(null, { output: { data: Buffer.alloc(0), width: 1, height: 1, format: ImageFormat.IMAGE_FORMAT_PNG, sizeBytes: 1, reused: false, object: { bucket: BUCKET, key: 'x.png' } } });
      } else cb({ code, details: `fake says ${grpc.status[code]}` } as grpc.ServiceError);
    },
  });
  const fakePort = await new Promise<number>((resolve, reject) =>
    fake.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  [gw, guarded, fakeGw] = await Promise.all([
    startGateway({ ...s3.env, ...endpoints, MAX_INFLIGHT_REQUEST_BYTES: String(1_500_000) }),
    startGateway({
      ...s3.env,
      ...endpoints,
      GATEWAY_API_KEYS: KEYS.join(','),
      ALLOWED_BUCKETS: BUCKET,
      MAX_BODY_BYTES: '100000',
      GATEWAY_RATE_LIMIT_RPS: '1',
      GATEWAY_RATE_LIMIT_BURST: '30',
    }),
    // Tracing on (spans to stdout), to see the trace context reach the service.
    startGateway({ ...s3.env, RESIZE_GRPC_ENDPOINT: `127.0.0.1:${fakePort}`, RETRY_MAX_ATTEMPTS: '1', BREAKER_FAILURE_THRESHOLD: '1000', OTEL_TRACES_EXPORTER: 'console' }),
  ]);
  base = gw.base;
  await s3.storage.write({ bucket: BUCKET, key: 'photos/cat.jpg' }, photo, 'image/jpeg');
  // The detection service loads its model after it starts listening.
  await eventually('gateway ready', () => request(base, '/ready'), (a) => a.status === 200, 120_000, 500);
}, 180_000);

afterAll(async () => {
  await Promise.all([gw?.stop(), guarded?.stop(), fakeGw?.stop()]);
  await Promise.all(services.map((s) => s.stop()));
  fake?.forceShutdown();
  await s3?.stop();
});

const keyOf = (a: { json: { output: { key: string } } }) => a.json.output.key;

describe('resize', () => {
  it('JSON mode with an object input stores a deterministic output and describes it', async () => {
    const a = await post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 320 });
    expect(a.status).toBe(200);
    expect(a.json.output).toMatchObject({ bucket: BUCKET, width: 320, height: 240, format: 'jpeg' });
    expect(a.json.output.key).toMatch(/^derived\/photos\/cat\/resize-[0-9a-f]{16}\.jpg$/);
    expect(a.json.timings.totalMs).toBeGreaterThan(0);
    const stored = await s3.storage.read({ bucket: BUCKET, key: a.json.output.key }, 1e8);
    expect(stored.data.length).toBe(a.json.output.sizeBytes);
    const again = await post(base, '/v1/resize', { input: { bucket: BUCKET, key: 'photos/cat.jpg' }, width: 320 });
    expect(keyOf(again)).toBe(keyOf(a));
  });

  it('identical chains at once write and read the same deterministic keys, and every step succeeds', async () => {
    // What a retried or fanned-out step does: the same input and parameters, so the same output
    // key, written by one caller while another reads it (on the embedded S3 this once read torn
    // objects: "premature end of JPEG image", "image is empty").
    const big = await makePhoto(1600, 1200);
    await s3.storage.write({ bucket: BUCKET, key: 'photos/shared.jpg' }, big, 'image/jpeg');
    const chain = async () => {
      const resized = await post(base, '/v1/resize', { input: { key: 'photos/shared.jpg' }, width: 1200 });
      expect(resized.json?.error).toBeUndefined();
      const filtered = await post(base, '/v1/filter', { input: { key: keyOf(resized) }, ops: [{ type: 'sharpen', intensity: 1.2 }] });
      expect(filtered.json?.error).toBeUndefined();
      return [keyOf(resized), keyOf(filtered)];
    };
    const keys = new Set<string>();
    for (let round = 0; round < 5; round++) {
      for (const pair of await Promise.all([chain(), chain(), chain(), chain()])) keys.add(pair.join(' → '));
    }
    expect(keys.size).toBe(1);
    const final = [...keys][0].split(' → ')[1];
    const stored = await s3.storage.read({ bucket: BUCKET, key: final }, 1e8);
    expect(await sharp(stored.data).metadata()).toMatchObject({ width: 1200, height: 900, format: 'jpeg' });
  });

  it('JSON mode with base64 input and output options', async () => {
    const a = await post(base, '/v1/resize', {
      input: { data: photo.toString('base64') },
      width: 100,
      height: 100,
      fit: 'cover',
      output: { format: 'webp', quality: 70, key: 'out/square.webp' },
    });
    expect(a.status).toBe(200);
    expect(a.json.output).toMatchObject({ bucket: BUCKET, key: 'out/square.webp', width: 100, height: 100, format: 'webp' });
  });

  it('raw mode answers the image bytes', async () => {
    const a = await postRaw(base, '/v1/resize?width=200&fit=cover&height=50&format=png', photo);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('image/png');
    const meta = await sharp(a.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 200, 50]);
    expect(a.headers.get('server-timing')).toMatch(/total;dur=/);
  });

  it('raw mode takes a chunked body (no Content-Length) as well', async () => {
    const answer = await new Promise<{ status: number; bytes: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/resize?width=120`, { method: 'POST', headers: { 'content-type': 'image/jpeg' } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, bytes: Buffer.concat(parts) }));
      });
      req.on('error', reject);
      for (let at = 0; at < photo.length; at += 10_000) req.write(photo.subarray(at, at + 10_000));
      req.end();
    });
    expect(answer.status).toBe(200);
    expect((await sharp(answer.bytes).metadata()).width).toBe(120);
  });
});

describe('filter', () => {
  it('JSON mode', async () => {
    const a = await post(base, '/v1/filter', { input: { key: 'photos/cat.jpg' }, ops: [{ type: 'blur', intensity: 2 }, { type: 'grayscale' }] });
    expect(a.status).toBe(200);
    expect(a.json.output).toMatchObject({ width: 640, height: 480, format: 'jpeg' });
    expect(a.json.output.key).toMatch(/^derived\/photos\/cat\/filter-/);
  });

  it('raw mode with ?ops=blur:3,grayscale', async () => {
    const a = await postRaw(base, '/v1/filter?ops=blur:3,grayscale', photo);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('image/jpeg');
    const { data, info } = await sharp(a.bytes).raw().toBuffer({ resolveWithObject: true });
    // Greyscale: the three channels agree (within JPEG error).
    const i = (info.width * 100 + 100) * info.channels;
    expect(Math.abs(data[i] - data[i + 1])).toBeLessThan(6);
  });
});

describe('detect (real detection service)', () => {
  it('JSON mode answers detections', async () => {
    const a = await post(base, '/v1/detect', { input: { key: 'photos/cat.jpg' }, confidenceThreshold: 0.2 });
    expect(a.status).toBe(200);
    expect(Array.isArray(a.json.detections)).toBe(true);
    expect(a.json).toMatchObject({ model: 'centernet', imageWidth: 640, imageHeight: 480 });
    expect(a.json.output).toBeUndefined();
  });

  it('JSON mode with drawBoxes stores the annotated image and its sidecar', async () => {
    const a = await post(base, '/v1/detect', { input: { key: 'photos/cat.jpg' }, drawBoxes: true });
    expect(a.status).toBe(200);
    expect(a.json.output.key).toMatch(/^derived\/photos\/cat\/detect-/);
    expect(a.json.sidecar.key).toBe(`${a.json.output.key}.json`);
    expect(await s3.storage.stat({ bucket: BUCKET, key: a.json.sidecar.key })).toBeDefined();
  });

  it('raw mode answers JSON, or the annotated image with drawBoxes=true', async () => {
    const j = await postRaw(base, '/v1/detect?maxDetections=5&classes=person,dog', photo);
    expect(j.status).toBe(200);
    expect(j.json.imageWidth).toBe(640);
    const img = await postRaw(base, '/v1/detect?drawBoxes=true&format=png', photo);
    expect(img.status).toBe(200);
    expect(img.headers.get('content-type')).toBe('image/png');
    expect((await sharp(img.bytes).metadata()).width).toBe(640);
  });
});

describe('/v1/pipeline', () => {
  it('resize → detect → filter in one call, storing only the final image, under the unfused chain key', async () => {
    await s3.storage.write({ bucket: BUCKET, key: 'pipe/dog.jpg' }, photo, 'image/jpeg');
    const fused = await post(base, '/v1/pipeline', {
      input: { key: 'pipe/dog.jpg' },
      steps: [{ op: 'resize', width: 300 }, { op: 'detect', maxDetections: 10 }, { op: 'filter', ops: [{ type: 'sharpen' }, { type: 'negate' }] }],
    });
    expect(fused.status).toBe(200);
    expect(fused.json.steps.map((s: { op: string }) => s.op)).toEqual(['resize', 'detect', 'filter']);
    expect(fused.json.steps[1]).toMatchObject({ width: 300, height: 225, model: 'centernet' });
    expect(fused.json.output).toMatchObject({ bucket: BUCKET, width: 300, height: 225 });
    // Nothing but the final image was written.
    expect(await s3.storage.list(BUCKET, 'derived/pipe/')).toEqual([keyOf(fused)]);
    const fusedBytes = (await s3.storage.read({ bucket: BUCKET, key: keyOf(fused) }, 1e8)).data;

    // The same chain as separate calls (detect makes no image) names and makes the same object.
    const r = await post(base, '/v1/resize', { input: { key: 'pipe/dog.jpg' }, width: 300 });
    const f = await post(base, '/v1/filter', { input: { key: keyOf(r) }, ops: [{ type: 'sharpen' }, { type: 'negate' }] });
    expect(keyOf(f)).toBe(keyOf(fused));
    expect((await s3.storage.read({ bucket: BUCKET, key: keyOf(f) }, 1e8)).data.equals(fusedBytes)).toBe(true);
  });

  it('a drawn detect step in the middle: its input and the annotated image are stored, keys as unfused', async () => {
    await s3.storage.write({ bucket: BUCKET, key: 'pipe/owl.jpg' }, photo, 'image/jpeg');
    const fused = await post(base, '/v1/pipeline', {
      input: { key: 'pipe/owl.jpg' },
      steps: [{ op: 'resize', width: 200 }, { op: 'detect', drawBoxes: true }, { op: 'filter', ops: [{ type: 'grayscale' }] }],
      output: { format: 'png' },
    });
    expect(fused.status).toBe(200);
    expect(fused.json.sidecar.key).toMatch(/detect-[0-9a-f]{16}\.jpg\.json$/);
    const r = await post(base, '/v1/resize', { input: { key: 'pipe/owl.jpg' }, width: 200 });
    const d = await post(base, '/v1/detect', { input: { key: keyOf(r) }, drawBoxes: true });
    const f = await post(base, '/v1/filter', { input: { key: keyOf(d) }, ops: [{ type: 'grayscale' }], output: { format: 'png' } });
    expect(d.json.sidecar).toEqual(fused.json.sidecar);
    expect(keyOf(f)).toBe(keyOf(fused));
    expect(fused.json.output.format).toBe('png');
  });

  it('an input in another bucket: the final object goes to that bucket, as unfused', async () => {
    await s3.storage.write({ bucket: OTHER_BUCKET, key: 'cat.jpg' }, photo, 'image/jpeg');
    const steps = [{ op: 'resize', width: 200 }, { op: 'filter', ops: [{ type: 'grayscale' }] }];
    const fused = await post(base, '/v1/pipeline', { input: { bucket: OTHER_BUCKET, key: 'cat.jpg' }, steps });
    expect(fused.json.output.bucket).toBe(OTHER_BUCKET);
    const r = await post(base, '/v1/resize', { input: { bucket: OTHER_BUCKET, key: 'cat.jpg' }, width: 200 });
    const f = await post(base, '/v1/filter', { input: { bucket: OTHER_BUCKET, key: keyOf(r) }, ops: [{ type: 'grayscale' }] });
    expect([f.json.output.bucket, keyOf(f)]).toEqual([OTHER_BUCKET, keyOf(fused)]);
  });

  it('inline input: the final key follows the unfused chain too', async () => {
    const data = photo.toString('base64');
    const steps = [{ op: 'resize', width: 160 }, { op: 'filter', ops: [{ type: 'brightness', intensity: 1.2 }] }];
    const fused = await post(base, '/v1/pipeline', { input: { data }, steps });
    expect(fused.status).toBe(200);
    const r = await post(base, '/v1/resize', { input: { data }, width: 160 });
    const f = await post(base, '/v1/filter', { input: { key: keyOf(r) }, ops: [{ type: 'brightness', intensity: 1.2 }] });
    expect(keyOf(f)).toBe(keyOf(fused));
  });

  it('a detect step after the last image step still sees the image; output.key names the final object', async () => {
    const fused = await post(base, '/v1/pipeline', {
      input: { key: 'photos/cat.jpg' },
      steps: [{ op: 'resize', width: 256 }, { op: 'detect' }],
    });
    expect(fused.status).toBe(200);
    expect(fused.json.steps[1]).toMatchObject({ op: 'detect', width: 256, height: 192 });
    const single = await post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 256 });
    expect(keyOf(fused)).toBe(keyOf(single));
    const named = await post(base, '/v1/pipeline', {
      input: { key: 'photos/cat.jpg' },
      steps: [{ op: 'filter', ops: [{ type: 'negate' }] }, { op: 'resize', width: 100 }],
      output: { key: 'named/result.webp', format: 'webp' },
    });
    expect(named.json.output).toMatchObject({ key: 'named/result.webp', format: 'webp', width: 100 });
    expect(await s3.storage.stat({ bucket: BUCKET, key: 'named/result.webp' })).toBeDefined();
  });

  it('rejects unknown ops, bad step parameters and detect-only pipelines before calling anything', async () => {
    const unknownOp = await post(base, '/v1/pipeline', { input: { key: 'photos/cat.jpg' }, steps: [{ op: 'rotate', degrees: 90 }] });
    expect(unknownOp.status).toBe(400);
    const missing = await post(base, '/v1/pipeline', { input: { key: 'photos/cat.jpg' }, steps: [{ op: 'filter', ops: [{ type: 'brightness' }] }] });
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/steps\[0\].*intensity is required/);
    const detectOnly = await post(base, '/v1/pipeline', { input: { key: 'photos/cat.jpg' }, steps: [{ op: 'detect' }] });
    expect(detectOnly.status).toBe(400);
    const raw = await postRaw(base, '/v1/pipeline', photo);
    expect(raw.status).toBe(415);
  });
});

describe('validation and the error shape', () => {
  const cases: Array<[string, () => Promise<Awaited<ReturnType<typeof post>>>, RegExp]> = [
    ['bad JSON', () => request(base, '/v1/resize', { body: '{"input":', contentType: 'application/json' }), /JSON/],
    ['wrong type', () => post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 'big' }), /width/],
    ['unknown field', () => post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 10, colour: 'red' }), /colour/],
    ['no size', () => post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' } }), /width, height or both/],
    ['unknown filter type', () => post(base, '/v1/filter', { input: { key: 'photos/cat.jpg' }, ops: [{ type: 'sepia' }] }), /type/],
    ['".." in a key', () => post(base, '/v1/resize', { input: { key: 'a/../secret.jpg' }, width: 10 }), /input/],
    ['leading "/" in an output key', () => post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 10, output: { key: '/etc/x.jpg' } }), /output/],
    ['unknown raw parameter', () => postRaw(base, '/v1/resize?width=10&colour=red', photo), /colour/],
    ['raw ops that do not parse', () => postRaw(base, '/v1/filter?ops=blur:abc', photo), /ops/],
    ['query in JSON mode', () => request(base, '/v1/resize?width=10', { json: { input: { key: 'photos/cat.jpg' }, width: 10 } }), /raw mode/],
  ];
  it.each(cases)('%s → 400 INVALID_ARGUMENT', async (_name, send, message) => {
    const a = await send();
    expect(a.status).toBe(400);
    expect(a.json.error).toMatchObject({ code: 'INVALID_ARGUMENT', requestId: a.headers.get('x-request-id') });
    expect(a.json.error.message).toMatch(message);
  });

  it('unsupported content type → 415; unknown route → 404 in the same shape', async () => {
    const a = await request(base, '/v1/resize', { body: 'hello', contentType: 'application/xml' });
    expect(a.status).toBe(415);
    expect(a.json.error.code).toBe('INVALID_ARGUMENT');
    const b = await request(base, '/v1/rotate', { json: {} });
    expect(b.status).toBe(404);
    expect(b.json.error.code).toBe('NOT_FOUND');
  });

  it('admits request bodies by bytes in flight: a burst past MAX_INFLIGHT_REQUEST_BYTES gets 503 busy', async () => {
    const big = await makePhoto(1600, 1200);
    expect(big.length).toBeGreaterThan(300_000);
    const answers = await Promise.all(Array.from({ length: 6 }, () => postRaw(base, '/v1/resize?width=64', big)));
    const statuses = answers.map((a) => a.status);
    expect(statuses).toContain(200);
    const busy = answers.find((a) => a.status === 503);
    expect(busy, statuses.join(',')).toBeDefined();
    expect(busy!.json.error.message).toMatch(/busy: .*MAX_INFLIGHT_REQUEST_BYTES/);
    expect(busy!.headers.get('retry-after')).toBe('1');
    // Released afterwards: a lone request is admitted again.
    expect((await postRaw(base, '/v1/resize?width=64', big)).status).toBe(200);
  });

  it('maps the real services\' errors: missing object 404, not an image 400, too large 413', async () => {
    const missing = await post(base, '/v1/resize', { input: { key: 'nope/none.jpg' }, width: 10 });
    expect([missing.status, missing.json.error.code]).toEqual([404, 'NOT_FOUND']);
    const notImage = await postRaw(base, '/v1/resize?width=10', Buffer.from('this is not an image at all'));
    expect([notImage.status, notImage.json.error.code]).toEqual([400, 'INVALID_ARGUMENT']);
    const big = Buffer.concat([photo, Buffer.alloc(3 * 1024 * 1024 + 1)]);
    const tooLarge = await postRaw(base, '/v1/resize?width=10', big);
    expect([tooLarge.status, tooLarge.json.error.code]).toEqual([413, 'RESOURCE_EXHAUSTED']);
    const noBucket = await post(base, '/v1/resize', { input: { bucket: 'no-such-bucket', key: 'a.jpg' }, width: 10 });
    expect(noBucket.status).toBe(404);
  });

  const grpcCases: Array<[number, number, string]> = [
    [grpc.status.CANCELLED, 500, 'CANCELLED'],
    [grpc.status.UNKNOWN, 500, 'UNKNOWN'],
    [grpc.status.INVALID_ARGUMENT, 400, 'INVALID_ARGUMENT'],
    [grpc.status.DEADLINE_EXCEEDED, 504, 'DEADLINE_EXCEEDED'],
    [grpc.status.NOT_FOUND, 404, 'NOT_FOUND'],
    [grpc.status.ALREADY_EXISTS, 500, 'ALREADY_EXISTS'],
    [grpc.status.PERMISSION_DENIED, 403, 'PERMISSION_DENIED'],
    [grpc.status.RESOURCE_EXHAUSTED, 413, 'RESOURCE_EXHAUSTED'],
    [grpc.status.FAILED_PRECONDITION, 500, 'FAILED_PRECONDITION'],
    [grpc.status.ABORTED, 500, 'ABORTED'],
    [grpc.status.OUT_OF_RANGE, 500, 'OUT_OF_RANGE'],
    [grpc.status.UNIMPLEMENTED, 500, 'UNIMPLEMENTED'],
    [grpc.status.INTERNAL, 500, 'INTERNAL'],
    [grpc.status.UNAVAILABLE, 503, 'UNAVAILABLE'],
    [grpc.status.DATA_LOSS, 500, 'DATA_LOSS'],
    [grpc.status.UNAUTHENTICATED, 401, 'UNAUTHENTICATED'],
  ];
  it.each(grpcCases)('gRPC code %i → HTTP %i %s', async (code, httpStatus, name) => {
    const a = await post(fakeGw.base, '/v1/resize', { input: { data: photo.subarray(0, 64).toString('base64') }, width: code });
    expect(a.status).toBe(httpStatus);
    expect(a.json.error.code).toBe(name);
    expect(a.json.error.message).toMatch(/fake says/);
    if (httpStatus === 503) expect(a.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('request ids', () => {
  it('are taken from X-Request-Id, passed to the service as metadata and returned', async () => {
    const a = await post(fakeGw.base, '/v1/resize', { input: { data: 'AAAA' }, width: 100 }, { 'x-request-id': 'rid-test-42' });
    expect(a.status).toBe(200);
    expect(a.headers.get('x-request-id')).toBe('rid-test-42');
    expect(fakeSeen.at(-1)).toBe('rid-test-42');
  });

  it("continue the caller's W3C trace: the service gets a traceparent of the same trace", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const a = await post(fakeGw.base, '/v1/resize', { input: { data: 'AAAA' }, width: 100 }, { traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
    expect(a.status).toBe(200);
    const seen = fakeTraceparents.at(-1)!;
    expect(seen).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(seen).not.toContain('00f067aa0ba902b7');
  });

  it('are generated when absent', async () => {
    const a = await post(fakeGw.base, '/v1/resize', { input: { data: 'AAAA' }, width: 100 });
    expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(fakeSeen.at(-1)).toBe(a.headers.get('x-request-id'));
  });
});

describe('body limit, auth and allowed buckets (gateway with GATEWAY_API_KEYS, ALLOWED_BUCKETS, MAX_BODY_BYTES=100000)', () => {
  const auth = { authorization: `Bearer ${KEYS[1]}` };
  it('answers 413 for a body over the limit, raw or JSON', async () => {
    const big = Buffer.alloc(200_000, 1);
    const raw = await postRaw(guarded.base, '/v1/resize?width=10', big, 'image/jpeg', auth);
    expect([raw.status, raw.json.error.code]).toEqual([413, 'RESOURCE_EXHAUSTED']);
    const json = await post(guarded.base, '/v1/resize', { input: { data: big.toString('base64') }, width: 10 }, auth);
    expect(json.status).toBe(413);
  });

  it('needs a valid Bearer key on /v1/*', async () => {
    const body = { input: { key: 'photos/cat.jpg' }, width: 32 };
    const none = await post(guarded.base, '/v1/resize', body);
    expect([none.status, none.json.error.code]).toEqual([401, 'UNAUTHENTICATED']);
    const wrong = await post(guarded.base, '/v1/resize', body, { authorization: 'Bearer key-one-0123456788' });
    expect(wrong.status).toBe(401);
    const basic = await post(guarded.base, '/v1/resize', body, { authorization: `Basic ${KEYS[0]}` });
    expect(basic.status).toBe(401);
    expect((await post(guarded.base, '/v1/resize', body, auth)).status).toBe(200);
    expect((await post(guarded.base, '/v1/resize', body, { authorization: `Bearer ${KEYS[0]}` })).status).toBe(200);
  });

  it('keeps health, readiness, metrics and the API document open', async () => {
    for (const path of ['/health', '/ready', '/metrics', '/openapi.json', '/v1/health/resize']) {
      expect((await request(guarded.base, path)).status, path).toBe(200);
    }
  });

  it('refuses buckets outside ALLOWED_BUCKETS with 403', async () => {
    const a = await post(guarded.base, '/v1/resize', { input: { bucket: OTHER_BUCKET, key: 'a.jpg' }, width: 10 }, auth);
    expect([a.status, a.json.error.code]).toEqual([403, 'PERMISSION_DENIED']);
    const b = await post(guarded.base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 10, output: { bucket: OTHER_BUCKET } }, auth);
    expect(b.status).toBe(403);
    const c = await post(guarded.base, '/v1/pipeline', { input: { key: 'photos/cat.jpg' }, steps: [{ op: 'resize', width: 8 }], output: { bucket: OTHER_BUCKET } }, auth);
    expect(c.status).toBe(403);
  });

  it('limits each key to its rate (429 with Retry-After), other keys and health unaffected', async () => {
    const limited = { authorization: `Bearer ${KEYS[2]}` };
    const answers = [];
    for (let i = 0; i < 36; i++) answers.push(await post(guarded.base, '/v1/resize', {}, limited));
    const refused = answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].json.error.code).toBe('RESOURCE_EXHAUSTED');
    expect(Number(refused[0].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(answers[0].status).toBe(400); // within the burst: on to validation
    expect((await post(guarded.base, '/v1/resize', {}, { authorization: `Bearer ${KEYS[0]}` })).status).toBe(400);
    expect((await request(guarded.base, '/health')).status).toBe(200);
  });

  it('the open gateway needs no key', async () => {
    expect((await post(base, '/v1/resize', { input: { key: 'photos/cat.jpg' }, width: 32 })).status).toBe(200);
  });
});

describe('health, readiness, metrics, OpenAPI', () => {
  it('GET /health, /ready and /v1/health/{service}', async () => {
    expect((await request(base, '/health')).json).toEqual({ status: 'ok' });
    const ready = await request(base, '/ready');
    expect(ready.status).toBe(200);
    expect(Object.keys(ready.json.backends).sort()).toEqual(['detection', 'filter', 'resize']);
    for (const s of ['resize', 'filter', 'detection']) {
      const a = await request(base, `/v1/health/${s}`);
      expect([a.status, a.json.status]).toEqual([200, 'SERVING']);
    }
    const unknown = await request(base, '/v1/health/teleport');
    expect([unknown.status, unknown.json.error.code]).toEqual([404, 'NOT_FOUND']);
    // The fake gateway has no filter service configured.
    const notConfigured = await request(fakeGw.base, '/v1/health/filter');
    expect([notConfigured.status, notConfigured.json.status]).toEqual([503, 'NOT_CONFIGURED']);
  });

  it('GET /metrics has request, upstream and breaker series', async () => {
    const text = (await request(base, '/metrics')).bytes.toString('utf8');
    expect(metricValue(text, 'imageflow_gateway_http_requests_total', { route: '/v1/resize', status: '200' })).toBeGreaterThan(0);
    expect(metricValue(text, 'imageflow_gateway_http_request_duration_seconds_count', { route: '/v1/pipeline', status: '200' })).toBeGreaterThan(0);
    expect(metricValue(text, 'imageflow_gateway_http_errors_total', { route: '/v1/resize', code: 'INVALID_ARGUMENT' })).toBeGreaterThan(0);
    expect(metricValue(text, 'imageflow_gateway_upstream_call_duration_seconds_count', { upstream: 'detection', method: 'Detect', code: 'OK' })).toBeGreaterThan(0);
    expect(metricValue(text, 'imageflow_gateway_circuit_breaker_state', { upstream: 'filter' })).toBe(0);
    expect(metricValue(text, 'imageflow_gateway_http_in_flight_requests')).toBeGreaterThanOrEqual(1);
  });

  it('GET /openapi.json is generated from the zod schemas, with the raw bodies', async () => {
    const doc = (await request(base, '/openapi.json')).json;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/resize', '/v1/filter', '/v1/detect', '/v1/pipeline', '/ready']));
    const content = doc.paths['/v1/resize'].post.requestBody.content;
    expect(content['application/json'].schema.properties).toHaveProperty('withoutEnlargement');
    expect(content).toHaveProperty('image/*');
  });

  it('GET /docs renders that document in one page that loads nothing from elsewhere', async () => {
    const docs = await request(base, '/docs');
    expect(docs.headers.get('content-type')).toMatch(/text\/html/);
    const html = new TextDecoder().decode(docs.bytes);
    for (const path of ['/v1/resize', '/v1/filter', '/v1/detect', '/v1/pipeline']) expect(html).toContain(`POST ${path}`);
    expect(html).toContain('withoutEnlargement');
    expect(html).toContain('image/*');
    expect(html).not.toMatch(/<script|https?:\/\/(?!127\.0\.0\.1)/);
  });
});
