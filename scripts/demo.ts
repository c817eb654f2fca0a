// `npm run demo`: the main job end to end on the embedded defaults. Starts the local stack
// (embedded S3 unless MINIO_ENDPOINT is set), uploads a sample photo, runs the seed pipeline
// resize → detect → filter through the gateway's fused /v1/pipeline, downloads the result to
// out/, prints what every step did, and stops everything. Exits non-zero on any failure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack } from '../services/local-stack/stack.js';
import { PipelineResponse } from '../services/shared/http-api.js';
import { samplePhoto } from './sample-photo.js';

const OUT_DIR = process.env.DEMO_OUT_DIR ?? 'out';

const stack = await startLocalStack();
let failed = false;
try {
  for (const [name, url] of stack.endpoints) console.log(`${name.padEnd(19)}${url}`);
  const gateway = stack.endpoints.find(([n]) => n === 'gateway')?.[1];
  if (!gateway) throw new Error('the gateway did not start');

  const photo = await samplePhoto();
  const input = { bucket: stack.bucket, key: `samples/${photo.name}` };
  await stack.storage.write(input, photo.data, 'image/jpeg');
  console.log(`\nuploaded ${photo.description} to s3://${input.bucket}/${input.key}`);

  const body = {
    input,
    steps: [
      { op: 'resize', width: 1024, fit: 'inside', withoutEnlargement: true },
      { op: 'detect', confidenceThreshold: 0.4, drawBoxes: true },
      { op: 'filter', ops: [{ type: 'sharpen', intensity: 1 }, { type: 'saturation', intensity: 1.2 }] },
    ],
    output: { format: 'jpeg', quality: 85 },
  };
  const started = performance.now();
  const res = await fetch(`${gateway}/v1/pipeline`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const elapsed = performance.now() - started;
  const json: unknown = await res.json();
  if (!res.ok) throw new Error(`POST /v1/pipeline answered ${res.status}: ${JSON.stringify(json)}`);
  const result = PipelineResponse.parse(json);

  console.log(`\nPOST /v1/pipeline (resize → detect → filter): ${res.status} in ${elapsed.toFixed(0)} ms`);
  for (const step of result.steps) {
    const found = step.detections ? `  ${step.detections.length} detection(s)` : '';
    console.log(`  ${step.op.padEnd(7)} ${String(step.width).padStart(5)}x${String(step.height).padEnd(5)} ${(step.timings.totalMs ?? 0).toFixed(0).padStart(5)} ms${found}`);
  }
  for (const d of result.detections) {
    const b = d.box;
    console.log(`    ${d.label.padEnd(12)} ${(d.confidence * 100).toFixed(0).padStart(3)}%  at ${b.x.toFixed(0)},${b.y.toFixed(0)} ${b.width.toFixed(0)}x${b.height.toFixed(0)}`);
  }
  const out = result.output;
  console.log(`  output  s3://${out.bucket}/${out.key} (${out.width}x${out.height} ${out.format}, ${out.sizeBytes} bytes)`);

  mkdirSync(OUT_DIR, { recursive: true });
  const image = await stack.storage.read({ bucket: out.bucket!, key: out.key! }, 100 * 1024 * 1024);
  const file = join(OUT_DIR, `demo-result.${out.format === 'jpeg' ? 'jpg' : out.format}`);
  writeFileSync(file, image.data);
  writeFileSync(join(OUT_DIR, 'demo-result.json'), JSON.stringify(result, null, 2));
  console.log(`\nwrote ${file} and ${join(OUT_DIR, 'demo-result.json')}`);
} catch (err) {
  failed = true;
  console.error(`demo failed: ${(err as Error).message}`);
} finally {
  await stack.stop();
}
process.exit(failed ? 1 : 0);
