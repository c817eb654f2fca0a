// The embedded backend's two runtimes through its real worker thread: onnxruntime on the graph
// converted in memory (the default) and tfjs on wasm answer the same photo alike, several calls
// in flight are answered in order, a dead worker is replaced (onnxruntime loading again in the new
// thread), closing waits for a running inference, and a runtime the service does not know is
// refused by name.
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedBackend } from '../../services/detection/embedded-backend.js';
import { DEFAULT_REGISTRY_FILE, DetectionEnv } from '../../services/detection/env.js';
import { loadModelRegistry } from '../../services/detection/model-registry.js';
import type { EmbeddedRuntime } from '../../services/detection/model-runner.js';
import { stretchedNhwc255 } from '../../services/detection/preprocess.js';
import { createLogger } from '../../services/shared/logger.js';
import { photo } from '../fixtures/detection/photos.js';

const env = DetectionEnv.parse({ MODEL_REGISTRY_FILE: DEFAULT_REGISTRY_FILE });
const model = loadModelRegistry(env).resolve('centernet');
if (model.backend !== 'embedded') throw new Error('the shipped default model is embedded');
const spec = model;
const backends: EmbeddedBackend[] = [];

afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
});

async function start(runtime: EmbeddedRuntime): Promise<EmbeddedBackend> {
  const backend = new EmbeddedBackend(spec, createLogger('test', 'silent'), { runtime, threads: 2 });
  backends.push(backend);
  await backend.firstReady;
  return backend;
}

const input = async (name: 'astronaut' | 'coffee') => stretchedNhwc255(sharp(photo(name)), 512, 512);

describe('embedded runtimes', () => {
  it('onnxruntime and tfjs-wasm give the same rows for the same photo', async () => {
    const [onnx, wasm] = [await start('onnxruntime'), await start('tfjs-wasm')];
    const a = await onnx.infer(await input('astronaut'));
    const b = await wasm.infer(await input('astronaut'));
    expect(a.shape).toEqual([1, 100, 6]);
    expect(b.shape).toEqual(a.shape);
    // the strongest rows: same class, score within 1e-3, box within half a pixel of the 512² input
    for (let row = 0; row < 10; row++) {
      const [ra, rb] = [a.output.subarray(row * 6, row * 6 + 6), b.output.subarray(row * 6, row * 6 + 6)];
      expect(ra[5]).toBe(rb[5]);
      expect(Math.abs(ra[4] - rb[4])).toBeLessThan(1e-3);
      for (let k = 0; k < 4; k++) expect(Math.abs(ra[k] - rb[k])).toBeLessThan(0.5);
    }
  }, 120_000);

  it('answers calls sent together, each with its own photo', async () => {
    const onnx = backends[0] ?? (await start('onnxruntime'));
    // infer() hands its input's memory to the worker, so every call gets its own copy
    const [one, two] = [await input('astronaut'), await input('coffee')];
    const alone = [(await onnx.infer(one.slice())).output, (await onnx.infer(two.slice())).output];
    const together = await Promise.all([onnx.infer(one), onnx.infer(two)]);
    expect(Array.from(together[0].output)).toEqual(Array.from(alone[0]));
    expect(Array.from(together[1].output)).toEqual(Array.from(alone[1]));
  }, 120_000);

  it('loads onnxruntime again in the worker that replaces a dead one', async () => {
    // A native addon loaded a second time in one process can fail ("Module did not self-register"
    // for onnxruntime-node 1.22–1.24 loaded with a plain require in a second worker).
    const backend = await start('onnxruntime');
    const before = await backend.infer(await input('astronaut'));
    const readiness: boolean[] = [];
    backend.onReadyChange((ready) => readiness.push(ready));
    // The worker dies while idle, as after a wasm abort or an out-of-memory kill.
    await (backend as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
    await expect(backend.infer(await input('astronaut'))).rejects.toMatchObject({ message: expect.stringMatching(/model worker exited/) });
    const deadline = Date.now() + 60_000;
    while (!backend.ready && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(readiness).toEqual([false, true]);
    const after = await backend.infer(await input('astronaut'));
    expect(Array.from(after.output)).toEqual(Array.from(before.output));
  }, 120_000);

  it.each(['onnxruntime', 'tfjs-wasm'] as const)('%s: closing while an inference runs answers it first and leaves the process standing', async (runtime) => {
    const backend = await start(runtime);
    const running = backend.infer(await input('astronaut'));
    await new Promise((r) => setTimeout(r, 5));
    await backend.close();
    expect((await running).shape).toEqual([1, 100, 6]);
    await expect(backend.infer(await input('coffee'))).rejects.toMatchObject({ message: expect.stringMatching(/shutting down/) });
  }, 120_000);

  it('refuses a runtime it does not know, naming the variable and the choices', () => {
    const r = DetectionEnv.safeParse({ DETECTION_EMBEDDED_RUNTIME: 'gpu' });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error!.issues)).toMatch(/DETECTION_EMBEDDED_RUNTIME[\s\S]*onnxruntime[\s\S]*tfjs-wasm|onnxruntime[\s\S]*tfjs-wasm/);
  });
});
