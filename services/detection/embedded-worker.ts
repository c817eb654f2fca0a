// Worker thread running the embedded model (onnx-runner.ts or tfjs-wasm-runner.ts). Both runtimes
// execute an inference synchronously, so it runs here to keep the service's event loop (gRPC,
// health, sharp callbacks) responsive while it is in progress. One inference at a time.
import { parentPort } from 'node:worker_threads';
import type { FromWorker, LoadMessage, ToWorker } from './embedded-worker-protocol.js';
import type { ModelRunner } from './model-runner.js';

const port = parentPort;
if (!port) throw new Error('embedded-worker.ts must run in a worker thread');
const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let runner: ModelRunner | undefined;
/** Inferences run one after another, in the order they came. */
let queue: Promise<unknown> = Promise.resolve();

async function load(message: LoadMessage): Promise<void> {
  const started = performance.now();
  // Only the chosen runtime's libraries are loaded (each takes a few hundred ms to import).
  const loaded =
    message.runtime === 'onnxruntime'
      ? await (await importOnnxRunner()).startOnnxRunner(message)
      : await (await import('./tfjs-wasm-runner.js')).startTfjsWasmRunner(message, message.wasmDir);
  const loadMs = performance.now() - started;
  // Warm-up: the first execution compiles kernels and allocates; do it before serving.
  const warm = performance.now();
  await loaded.run(new Float32Array(message.inputShape.reduce((a, b) => a * b, 1)));
  runner = loaded;
  send({ type: 'loaded', runtime: message.runtime, loadMs, warmupMs: performance.now() - warm, ...loaded.info });
}

/** onnxruntime is a native library; where it cannot load, the wasm runtime still can. */
async function importOnnxRunner(): Promise<typeof import('./onnx-runner.js')> {
  try {
    return await import('./onnx-runner.js');
  } catch (err) {
    throw new Error(`onnxruntime-node cannot load here (${(err as Error).message}); DETECTION_EMBEDDED_RUNTIME=tfjs-wasm runs the model without it`);
  }
}

async function infer(id: number, input: Float32Array): Promise<void> {
  const started = performance.now();
  try {
    if (!runner) throw new Error('model not loaded');
    const { output, shape } = await runner.run(input);
    const copy = output.slice(); // own buffer, transferable
    send({ type: 'result', id, output: copy, shape, ms: performance.now() - started }, [copy.buffer]);
  } catch (err) {
    send({ type: 'failed', id, message: (err as Error).message ?? String(err) });
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'load') {
    load(message).catch((err: unknown) => send({ type: 'load-failed', message: (err as Error).message ?? String(err) }));
    return;
  }
  if (message.type === 'close') {
    // Ending the thread while onnxruntime runs aborts the whole process, so the queue drains first.
    queue = queue.then(() => runner?.close()).finally(() => process.exit(0));
    return;
  }
  queue = queue.then(() => infer(message.id, message.input));
});
