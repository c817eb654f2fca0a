// What the model worker needs from a runtime: a model loaded and warmed up, then one inference at
// a time on an NHWC float32 input.

/** The embedded model's runtimes: onnxruntime's native CPU kernels, or tfjs on WebAssembly. */
export const EMBEDDED_RUNTIMES = ['onnxruntime', 'tfjs-wasm'] as const;
export type EmbeddedRuntime = (typeof EMBEDDED_RUNTIMES)[number];

export interface RunnerSpec {
  /** tfjs graph model (model.json beside its weight shards) */
  readonly modelFile: string;
  readonly inputName: string;
  readonly outputName: string;
  /** NHWC, batch 1 */
  readonly inputShape: readonly number[];
  readonly threads: number;
}

export interface RunnerInfo {
  /** Threads one inference uses. */
  readonly threads: number;
  /** Why fewer threads run than were asked for. */
  readonly fallback?: string;
  /** Runtime details worth a log line (wasm SIMD, the converted model's size…). */
  readonly detail: Readonly<Record<string, string | number | boolean>>;
}

export interface ModelRunner {
  readonly info: RunnerInfo;
  run(input: Float32Array): Promise<{ output: Float32Array; shape: number[] }>;
  /** Frees the model; called once no inference is running. */
  close(): Promise<void>;
}
