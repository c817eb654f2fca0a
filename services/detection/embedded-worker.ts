// Worker thread running the embedded tfjs model on the wasm backend. tfjs executes a graph
// synchronously, so it runs here to keep the service's event loop (gRPC, health, sharp
// callbacks) responsive while a 0.3 s inference is in progress. One inference at a time.
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { type GraphModel, loadGraphModel } from '@tensorflow/tfjs-converter';
import { graphModelFromDisk } from './disk-model-io.js';
import type { FromWorker, LoadMessage, ToWorker } from './embedded-worker-protocol.js';
import { startWasmBackend } from './wasm-backend.js';
import { installFastKernels } from './wasm-kernels.js';

const port = parentPort;
if (!port) throw new Error('embedded-worker.ts must run in a worker thread');
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let model: GraphModel | undefined;
let spec: LoadMessage | undefined;

async function load(message: LoadMessage): Promise<void> {
  const started = performance.now();
  const wasm = await startWasmBackend(message.wasmDir, message.threads);
  installFastKernels();
  tf.enableProdMode();
  model = await loadGraphModel(graphModelFromDisk(message.modelFile));
  spec = message;
  const loadMs = performance.now() - started;
  // Warm-up: the first execution compiles kernels and allocates; do it before serving.
  const warm = performance.now();
  run(new Float32Array(message.inputShape.reduce((a, b) => a * b, 1)));
  send({ type: 'loaded', loadMs, warmupMs: performance.now() - warm, ...wasm });
}

function run(input: Float32Array): { output: Float32Array; shape: number[] } {
  if (!model || !spec) throw new Error('model not loaded');
  const { inputShape, inputName, outputName } = spec;
  const result = tf.tidy(() => {
    const x = tf.tensor(input, [...inputShape], 'float32');
    return model!.execute({ [inputName]: x }, outputName) as tf.Tensor;
  });
  try {
    return { output: result.dataSync() as Float32Array, shape: result.shape };
  } finally {
    result.dispose();
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'load') {
    load(message).catch((err: unknown) => send({ type: 'load-failed', message: (err as Error).message ?? String(err) }));
    return;
  }
  const started = performance.now();
  try {
    const { output, shape } = run(message.input);
    const copy = output.slice(); // own buffer, transferable
    send({ type: 'result', id: message.id, output: copy, shape, ms: performance.now() - started }, [copy.buffer]);
  } catch (err) {
    send({ type: 'failed', id: message.id, message: (err as Error).message ?? String(err) });
  }
});
