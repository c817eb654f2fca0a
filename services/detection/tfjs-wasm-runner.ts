// The embedded model on tfjs's wasm backend (wasm-backend.ts: SIMD, XNNPACK threads), with the
// faster kernels of wasm-kernels.ts. tfjs executes a graph synchronously.
import * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { graphModelFromDisk } from './disk-model-io.js';
import type { ModelRunner, RunnerSpec } from './model-runner.js';
import { startWasmBackend } from './wasm-backend.js';
import { installFastKernels } from './wasm-kernels.js';

export async function startTfjsWasmRunner(spec: RunnerSpec, wasmDir: string): Promise<ModelRunner> {
  const wasm = await startWasmBackend(wasmDir, spec.threads);
  installFastKernels();
  tf.enableProdMode();
  const model = await loadGraphModel(graphModelFromDisk(spec.modelFile));
  return {
    info: { threads: wasm.threads, fallback: wasm.fallback, detail: { simd: wasm.simd } },
    async run(input) {
      const result = tf.tidy(() => model.execute({ [spec.inputName]: tf.tensor(input, [...spec.inputShape], 'float32') }, spec.outputName) as tf.Tensor);
      try {
        return { output: result.dataSync() as Float32Array, shape: result.shape };
      } finally {
        result.dispose();
      }
    },
    async close() {
      model.dispose();
    },
  };
}
