// Messages between the service's event loop and the worker thread that runs the embedded model.
import type { EmbeddedRuntime, RunnerInfo, RunnerSpec } from './model-runner.js';

export interface LoadMessage extends RunnerSpec {
  readonly type: 'load';
  readonly runtime: EmbeddedRuntime;
  /** Folder holding the tfjs-backend-wasm .wasm binaries (runtime tfjs-wasm). */
  readonly wasmDir: string;
}

export interface InferMessage {
  readonly type: 'infer';
  readonly id: number;
  readonly input: Float32Array;
}

/** Finish the inferences already sent, free the model, end the thread. */
export interface CloseMessage {
  readonly type: 'close';
}

export type ToWorker = LoadMessage | InferMessage | CloseMessage;

export type FromWorker =
  | (RunnerInfo & { readonly type: 'loaded'; readonly runtime: EmbeddedRuntime; readonly loadMs: number; readonly warmupMs: number })
  | { readonly type: 'load-failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly output: Float32Array; readonly shape: number[]; readonly ms: number }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };
