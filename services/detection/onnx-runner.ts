// The embedded model on onnxruntime: the tfjs graph model is converted in memory
// (tfjs-to-onnx.ts) and run by onnxruntime's CPU kernels, about three times faster than tfjs on
// WebAssembly here for the same outputs (BENCHMARKS.md, finding 27).
import * as ort from 'onnxruntime-node';
import type { ModelRunner, RunnerSpec } from './model-runner.js';
import { tfjsGraphToOnnx } from './tfjs-to-onnx.js';

export async function startOnnxRunner(spec: RunnerSpec): Promise<ModelRunner> {
  const started = performance.now();
  const model = tfjsGraphToOnnx(spec.modelFile, [spec.outputName]);
  const convertMs = performance.now() - started;
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: spec.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3, // errors only: the converted graph's harmless notes stay out of the service log
    // Idle threads sleep instead of spinning: the other services on the node want that CPU.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  return {
    info: { threads: spec.threads, detail: { convertMs: Math.round(convertMs), onnxBytes: model.length } },
    async run(input) {
      const feeds = { [spec.inputName]: new ort.Tensor('float32', input, [...spec.inputShape]) };
      const result = (await session.run(feeds))[spec.outputName];
      if (!result || result.type !== 'float32') throw new Error(`the model gave no float32 output "${spec.outputName}"`);
      return { output: result.data as Float32Array, shape: [...result.dims] };
    },
    close: () => session.release(),
  };
}
