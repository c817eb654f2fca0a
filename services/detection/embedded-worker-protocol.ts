// Messages between the service's event loop and the worker thread that runs the embedded model.

export interface LoadMessage {
  readonly type: 'load';
  readonly modelFile: string;
  /** Folder holding the tfjs-backend-wasm .wasm binaries. */
  readonly wasmDir: string;
  readonly inputName: string;
  readonly outputName: string;
  /** NHWC input shape, batch 1. */
  readonly inputShape: readonly number[];
}

export interface InferMessage {
  readonly type: 'infer';
  readonly id: number;
  readonly input: Float32Array;
}

export type ToWorker = LoadMessage | InferMessage;

export type FromWorker =
  | { readonly type: 'loaded'; readonly loadMs: number; readonly warmupMs: number; readonly simd: boolean }
  | { readonly type: 'load-failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly output: Float32Array; readonly shape: number[]; readonly ms: number }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };
