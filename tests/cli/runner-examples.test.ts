// The local runner executes every example pipeline's compiled WorkflowTemplate end to end against
// a real local stack (service processes, gateway, embedded S3) on real photos, with fusion on and
// off: both succeed, produce the same output keys and the same detections; the files land in --out.
// `imageflow smoke` is tested here too, against the same stack (starting one costs ~20 s of CPU).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pipelines } from '../../pipelines/index.js';
import { imageRefs } from '../../cli/run/outputs.js';
import { runLocally, type LocalRunResult } from '../../cli/run/local-run.js';
import type { WorkflowRun } from '../../cli/runner/executor.js';
import { startHookServer, type HookServer } from './support/hook-server.js';
import { imageflow } from './support/run-cli.js';
import { photoFiles, startTestStack, type TestStack } from './support/stack.js';

const run = promisify(execFile);

let t: TestStack;
let hook: HookServer;
const photos = photoFiles(['astronaut', 'chelsea', 'coffee', 'motorcycle_left']);
const out = mkdtempSync(join(tmpdir(), 'imageflow-cli-out-'));

beforeAll(async () => {
  [t, hook] = await Promise.all([startTestStack(), startHookServer()]);
});
afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

/** Inputs and parameters each example is run with. */
const CASES: Record<string, { inputs: string[]; params?: () => Record<string, string> }> = {
  'resize-detect-filter': { inputs: [photos.astronaut] },
  thumbnails: { inputs: [photos.chelsea] },
  'privacy-blur': { inputs: [photos.astronaut, photos.chelsea] },
  'batch-thumbnails': { inputs: [photos.astronaut, photos.coffee, photos.motorcycle_left], params: () => ({ notifyUrl: hook.url, width: '200' }) },
  'watermark-check': { inputs: [photos.motorcycle_left] },
};

/** Every detection any step reported, in a comparable form. */
function detections(run: WorkflowRun): string[] {
  const found: string[] = [];
  for (const n of run.nodes) {
    if (!n.result) continue;
    const answer = JSON.parse(n.result) as { detections?: { label: string; confidence: number; box: Record<string, number> }[] };
    for (const d of answer.detections ?? [])
      found.push(`${d.label}@${d.confidence.toFixed(3)}:${Object.values(d.box).map((v) => Math.round(v)).join(',')}`);
  }
  return found.sort();
}

const outputKeys = (r: LocalRunResult) => r.runs.map((run) => imageRefs(run.outputs, 'imageflow').map((x) => `${x.output}=${x.key}`).sort());

describe('every example pipeline runs locally, fusion on and off', () => {
  it('covers every example', () => {
    expect(pipelines.map((p) => p.name).sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const pipeline of pipelines) {
    it(`${pipeline.name}: same outputs and detections with and without fusion`, async () => {
      const c = CASES[pipeline.name];
      const results: Record<string, LocalRunResult> = {};
      for (const fusion of [true, false]) {
        results[String(fusion)] = await runLocally({
          pipeline,
          connection: t.connection,
          inputFiles: c.inputs,
          parameters: c.params?.(),
          fusion,
          outDir: join(out, `${pipeline.name}-${fusion}`),
        });
      }
      const [on, off] = [results.true, results.false];
      for (const r of [on, off]) for (const w of r.runs) expect(w.phase, `${w.name}: ${w.message}`).toBe('Succeeded');
      expect(on.template.metadata.annotations?.['imageflow.dev/fusion']).toBe('enabled');
      expect(off.template.metadata.annotations?.['imageflow.dev/fusion']).toBe('disabled');
      expect(outputKeys(on)).toEqual(outputKeys(off));
      expect(on.runs.map(detections)).toEqual(off.runs.map(detections));
      // Every output image was downloaded and decodes.
      for (const file of on.downloaded.filter((f) => !f.endsWith('.json'))) expect((await sharp(file).metadata()).width).toBeGreaterThan(0);
      expect(on.downloaded.length).toBe(off.downloaded.length);
    });
  }

  it('privacy-blur blurs the astronaut (a person) and skips the cat, as its `when` says', async () => {
    const pipeline = pipelines.find((p) => p.name === 'privacy-blur')!;
    const r = await runLocally({ pipeline, connection: t.connection, inputFiles: [photos.astronaut, photos.chelsea] });
    const [astronaut, cat] = r.runs;
    const blur = (w: WorkflowRun) => w.nodes.find((n) => n.displayName === 'blur-all')!;
    expect(detections(astronaut).some((d) => d.startsWith('person@'))).toBe(true);
    expect(blur(astronaut).phase).toBe('Succeeded');
    expect(JSON.parse(astronaut.outputs.blurred).output.key).toMatch(/^derived\/inputs\/astronaut\//);
    expect(detections(cat).some((d) => d.startsWith('person@'))).toBe(false);
    expect(blur(cat).phase).toBe('Skipped');
    expect(blur(cat).message).toMatch(/evaluated false/);
    expect(cat.phase).toBe('Succeeded');
    // A skipped task's output falls back to the valueFrom default.
    expect(cat.outputs.blurred).toBe('');
  });

  it('batch-thumbnails fans out one branch per image, gathers the answers and calls its exit handler', async () => {
    const calls = hook.calls.length;
    const pipeline = pipelines.find((p) => p.name === 'batch-thumbnails')!;
    const r = await runLocally({ pipeline, connection: t.connection, inputFiles: [photos.astronaut, photos.coffee], parameters: { notifyUrl: hook.url, width: '120' } });
    const [w] = r.runs;
    expect(w.phase).toBe('Succeeded');
    const gathered = JSON.parse(w.outputs.thumbnails) as { output: { key: string; width: number } }[];
    expect(gathered.map((g) => g.output.key.split('/')[2])).toEqual(['astronaut', 'coffee']);
    expect(gathered.every((g) => g.output.width === 120)).toBe(true);
    expect(hook.calls.slice(calls)).toEqual([{ workflow: w.name, status: 'Succeeded', pipeline: 'batch-thumbnails' }]);
  });

  it('`imageflow run` as a process: uploads, runs, prints the step table and writes the outputs', async () => {
    const dir = join(out, 'cli');
    const { stdout } = await run(
      process.execPath,
      ['cli/bin.mjs', 'run', 'thumbnails', '-i', photos.coffee, '-p', 'fit=contain', '--gateway', t.gateway, '--s3-endpoint', t.stack.s3.endpoint, '-o', dir],
      { env: { ...process.env, MINIO_ACCESS_KEY: t.stack.s3.accessKey, MINIO_SECRET_KEY: t.stack.s3.secretKey }, timeout: 60_000 },
    );
    expect(stdout).toMatch(/thumbnails-\w+: Succeeded/);
    expect(stdout).toMatch(/STEP\s+TEMPLATE\s+PHASE/);
    expect(stdout).toMatch(/✔ small\s+resize\s+Succeeded/);
    const runDir = /(thumbnails-\w+): Succeeded/.exec(stdout)![1];
    const summary = JSON.parse(readFileSync(join(dir, runDir, 'run.json'), 'utf8'));
    expect(summary.phase).toBe('Succeeded');
    expect(summary.parameters).toMatchObject({ fit: 'contain', image: 'inputs/coffee.png' });
    const large = summary.outputs.large.output.key.split('/').pop();
    const meta = await sharp(join(dir, runDir, 'large', large)).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width!, meta.height!)).toBe(1024);
    expect(existsSync(join(dir, runDir, 'small'))).toBe(true);
  });
});

describe('imageflow smoke', () => {
  const creds = () => ({ MINIO_ACCESS_KEY: t.stack.s3.accessKey, MINIO_SECRET_KEY: t.stack.s3.secretKey });

  it('passes every check against a healthy stack, decoding the outputs', async () => {
    const r = await imageflow(['smoke', '--gateway', t.gateway, '--s3-endpoint', t.stack.s3.endpoint, '--json'], creds());
    expect(r.code, r.stdout).toBe(0);
    const { results } = JSON.parse(r.stdout) as { results: { name: string; ok: boolean; latencyMs: number; detail: string }[] };
    expect(results.map((x) => x.name)).toEqual([
      'GET /health',
      'GET /ready',
      'GET /v1/health/resize',
      'GET /v1/health/filter',
      'GET /v1/health/detection',
      'resize (raw, decoded)',
      'filter (raw, decoded)',
      'detect (json)',
      'detect drawBoxes (raw, decoded)',
      'fused pipeline resize→filter→detect',
      'bad request is a 400',
    ]);
    expect(results.every((x) => x.ok && x.latencyMs > 0)).toBe(true);
    expect(results.find((x) => x.name.startsWith('fused'))!.detail).toMatch(/decoded png 320x240$/);
  });

  // Last in the file: it stops the detection service for good.
  it('fails (exit 1) and says which checks failed when the detection service is down', async () => {
    await t.stopService('detection');
    const r = await imageflow(['smoke', '--gateway', t.gateway, '--timeout', '20'], creds());
    expect(r.code).toBe(1);
    const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(name))!;
    expect(row('GET /health ')).toMatch(/PASS/);
    expect(row('GET /ready ')).toMatch(/FAIL/);
    expect(row('GET /v1/health/detection ')).toMatch(/FAIL/);
    expect(row('detect (json) ')).toMatch(/FAIL\s+\S+\s+503 UNAVAILABLE/);
    expect(row('resize (raw, decoded) ')).toMatch(/PASS/);
    expect(r.stdout).toMatch(/^\d+ passed, [1-9]\d* failed$/m);
  });
});
