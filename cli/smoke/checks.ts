// The checks of `imageflow smoke`, each a real call to the gateway with a generated image:
// health endpoints, every operation (raw mode, so the answer is image bytes we can decode), detect,
// and one fused /v1/pipeline (decoded from storage when we can reach it, else checked by its answer).
import sharp from 'sharp';
import { DetectResponse, PipelineResponse } from '../../services/shared/http-api.js';
import type { Storage } from '../../services/shared/storage.js';

export interface CheckResult {
  readonly name: string;
  readonly ok: boolean;
  readonly latencyMs: number;
  readonly detail: string;
  /** The gateway could not be reached at all (connection refused, DNS). */
  readonly unreachable?: boolean;
}

export interface SmokeTarget {
  readonly gateway: string;
  readonly apiKey?: string;
  readonly timeoutMs: number;
  /** When set, the fused pipeline's stored output is downloaded and decoded. */
  readonly storage?: Storage;
  readonly bucket?: string;
}

/** A 640x480 image with gradients and shapes, so codecs and filters have work to do. */
export async function generatedImage(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#3b7dd8"/><stop offset="1" stop-color="#f2c14e"/></linearGradient></defs>
    <rect width="640" height="480" fill="url(#g)"/>
    <circle cx="200" cy="220" r="90" fill="#d9534f"/><rect x="360" y="120" width="180" height="240" fill="#5cb85c"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 90 }).toBuffer();
}

type Call = { status: number; body: Buffer; contentType: string; ms: number };

async function call(target: SmokeTarget, method: string, path: string, body?: Buffer | object, contentType?: string): Promise<Call> {
  const headers: Record<string, string> = {};
  if (target.apiKey) headers.authorization = `Bearer ${target.apiKey}`;
  let payload: Buffer | string | undefined;
  if (Buffer.isBuffer(body)) {
    payload = body;
    headers['content-type'] = contentType ?? 'image/jpeg';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const started = performance.now();
  const res = await fetch(`${target.gateway}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(target.timeoutMs) });
  const data = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body: data, contentType: res.headers.get('content-type') ?? '', ms: performance.now() - started };
}

const errorText = (c: Call) => {
  try {
    const e = JSON.parse(c.body.toString('utf8')) as { error?: { code?: string; message?: string } };
    return e.error ? `${c.status} ${e.error.code}: ${e.error.message}` : `${c.status}`;
  } catch {
    return `${c.status}`;
  }
};

/** Runs one check; network errors and thrown assertions become a failed row. */
async function check(name: string, fn: () => Promise<{ ms: number; detail: string }>): Promise<CheckResult> {
  const started = performance.now();
  try {
    const { ms, detail } = await fn();
    return { name, ok: true, latencyMs: ms, detail };
  } catch (err) {
    const e = err as { name?: string; message?: string; cause?: { code?: string } };
    const code = e.cause?.code;
    const unreachable = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
    const detail = e.name === 'TimeoutError' ? 'timed out' : code ? `unreachable (${code})` : (e.message ?? String(err));
    return { name, ok: false, latencyMs: performance.now() - started, detail, unreachable };
  }
}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

export async function runSmokeChecks(target: SmokeTarget): Promise<CheckResult[]> {
  const image = await generatedImage();
  const results: CheckResult[] = [];
  const health = async (path: string) => {
    const c = await call(target, 'GET', path);
    expect(c.status === 200, `${errorText(c)} ${c.body.toString('utf8').slice(0, 200)}`);
    return { ms: c.ms, detail: c.body.toString('utf8').slice(0, 80) };
  };
  results.push(await check('GET /health', () => health('/health')));
  if (results[0].unreachable) return results;
  results.push(await check('GET /ready', () => health('/ready')));
  for (const s of ['resize', 'filter', 'detection']) results.push(await check(`GET /v1/health/${s}`, () => health(`/v1/health/${s}`)));

  results.push(
    await check('resize (raw, decoded)', async () => {
      const c = await call(target, 'POST', '/v1/resize?width=320&format=png', image);
      expect(c.status === 200, errorText(c));
      const meta = await sharp(c.body).metadata();
      expect(meta.format === 'png' && meta.width === 320 && meta.height === 240, `expected a 320x240 png, decoded ${meta.format} ${meta.width}x${meta.height}`);
      return { ms: c.ms, detail: `png 320x240, ${c.body.length} bytes` };
    }),
  );
  results.push(
    await check('filter (raw, decoded)', async () => {
      const c = await call(target, 'POST', '/v1/filter?ops=grayscale&format=png', image);
      expect(c.status === 200, errorText(c));
      const { data, info } = await sharp(c.body).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const i = (240 * info.width + 200) * info.channels;
      const gray = info.channels === 1 || (data[i] === data[i + 1] && data[i + 1] === data[i + 2]);
      expect(info.width === 640 && gray, `expected a grey 640x480 image, got ${info.width}x${info.height} with ${info.channels} channels, pixel ${[...data.subarray(i, i + 3)].join(',')}`);
      return { ms: c.ms, detail: `grey 640x480, ${c.body.length} bytes` };
    }),
  );
  results.push(
    await check('detect (json)', async () => {
      const c = await call(target, 'POST', '/v1/detect', { input: { data: image.toString('base64') }, confidenceThreshold: 0.3 });
      expect(c.status === 200, errorText(c));
      const answer = DetectResponse.parse(JSON.parse(c.body.toString('utf8')));
      expect(answer.imageWidth === 640 && answer.imageHeight === 480, `detector saw ${answer.imageWidth}x${answer.imageHeight}, expected 640x480`);
      return { ms: c.ms, detail: `${answer.detections.length} detection(s), model ${answer.model}` };
    }),
  );
  results.push(
    await check('detect drawBoxes (raw, decoded)', async () => {
      const c = await call(target, 'POST', '/v1/detect?drawBoxes=true&format=jpeg', image);
      expect(c.status === 200, errorText(c));
      const meta = await sharp(c.body).metadata();
      expect(meta.width === 640 && meta.height === 480, `annotated image is ${meta.width}x${meta.height}`);
      return { ms: c.ms, detail: `${meta.format} ${meta.width}x${meta.height}` };
    }),
  );
  results.push(
    await check('fused pipeline resize→filter→detect', async () => {
      const key = `smoke/input-${Date.now()}.jpg`;
      const input = target.storage && target.bucket ? { bucket: target.bucket, key } : { data: image.toString('base64') };
      if (target.storage && target.bucket) await target.storage.write({ bucket: target.bucket, key }, image, 'image/jpeg');
      const steps = [{ op: 'resize', width: 320 }, { op: 'filter', ops: [{ type: 'grayscale' }] }, { op: 'detect', confidenceThreshold: 0.3 }];
      const c = await call(target, 'POST', '/v1/pipeline', { input, steps, output: { format: 'png' } });
      expect(c.status === 200, errorText(c));
      const answer = PipelineResponse.parse(JSON.parse(c.body.toString('utf8')));
      expect(answer.steps.length === 3 && answer.output.width === 320 && answer.output.format === 'png', `unexpected answer: ${JSON.stringify(answer.output)}`);
      let decoded = 'not downloaded (no storage access)';
      if (target.storage && answer.output.key) {
        const { data } = await target.storage.read({ bucket: answer.output.bucket ?? target.bucket!, key: answer.output.key }, 64 * 1024 * 1024);
        const meta = await sharp(data).metadata();
        expect(meta.width === 320 && meta.format === 'png', `stored output decodes as ${meta.format} ${meta.width}x${meta.height}`);
        decoded = `decoded ${meta.format} ${meta.width}x${meta.height}`;
      }
      return { ms: c.ms, detail: `3 steps, ${answer.detections.length} detection(s), ${decoded}` };
    }),
  );
  results.push(
    await check('bad request is a 400', async () => {
      const c = await call(target, 'POST', '/v1/resize', { input: { data: image.toString('base64') } });
      expect(c.status === 400, `expected 400 for a resize without a size, got ${errorText(c)}`);
      return { ms: c.ms, detail: errorText(c).slice(0, 80) };
    }),
  );
  return results;
}
