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
  /** XNNPACK threads; above 1 the threaded SIMD build runs (see wasm-backend.ts). */
  readonly threads: number;
}

export interface InferMessage {
  readonly type: 'infer';
  readonly id: number;
  readonly input: Float32Array;
}

export type ToWorker = LoadMessage | InferMessage;

export type FromWorker =
  | {
      readonly type: 'loaded';
      readonly loadMs: number;
      readonly warmupMs: number;
      readonly simd: boolean;
      /** XNNPACK threads in use. */
      readonly threads: number;
      /** Why fewer threads run than were asked for. */
      readonly fallback?: string;
    }
  | { readonly type: 'load-failed'; readonly message: string }
  | { readonly type: 'result'; readonly id: number; readonly output: Float32Array; readonly shape: number[]; readonly ms: number }
  | { readonly type: 'failed'; readonly id: number; readonly message: string };
