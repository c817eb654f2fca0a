// The embedded backend: a tfjs graph model run by onnxruntime (or by tfjs on wasm) in a worker
// thread, loaded from disk once at start-up and warmed up before it reports ready.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ServiceError, Code, unavailable } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CENTERNET_INPUT, CENTERNET_OUTPUT } from './centernet-decoder.js';
import type { FromWorker, ToWorker } from './embedded-worker-protocol.js';
import type { EmbeddedModelSpec } from './model-registry.js';
import type { EmbeddedRuntime } from './model-runner.js';
import { type InferenceResult, type ModelBackend, ReadinessReporting } from './model-backend.js';

const WORKER_URL = new URL('./embedded-worker.ts', import.meta.url);

/** Starts a worker on a module; a .ts module (run through tsx) is imported via tsx's API. */
function startWorker(url: URL): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url);
  const api = import.meta.resolve('tsx/esm/api');
  const code = `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(code, { eval: true });
}

export interface EmbeddedBackendOptions {
  /**
   * What runs the model: onnxruntime's native CPU kernels on the graph converted in memory
   * (tfjs-to-onnx.ts), or tfjs on WebAssembly. Same network, same outputs within float rounding;
   * onnxruntime takes about a third of the time and of the CPU here.
   * @default 'onnxruntime'
   */
  readonly runtime?: EmbeddedRuntime;
  /**
   * Threads of one inference (onnxruntime's intra-op pool, or XNNPACK's in wasm-backend.ts). Two
   * pay when the second core is mostly free (the usual case for this service); each op waits for
   * its slowest thread, so on a machine saturated by other work they are slower than one.
   * @default defaultModelThreads(): the CPUs this process may use (affinity, cgroup quota), at most 2
   */
  readonly threads?: number;
}

/** The CPUs this process may use, at most 2 (the count measured; see the README). */
export function defaultModelThreads(): number {
  return Math.max(1, Math.min(2, availableParallelism(), cgroupCpuLimit()));
}

/** The cgroup v2 CPU quota in whole CPUs (a pod's CPU limit); Infinity when none is set or readable. */
function cgroupCpuLimit(): number {
  try {
    const [quota, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    return quota === 'max' ? Infinity : Math.max(1, Math.floor(Number(quota) / Number(period)));
  } catch {
    return Infinity;
  }
}

export class EmbeddedBackend extends ReadinessReporting implements ModelBackend {
  private readonly pending = new Map<number, { resolve: (r: InferenceResult) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private worker?: Worker;
  private restarts = 0;
  private closing = false;
  private closed?: Promise<void>;
  private readonly load: ToWorker;

  constructor(
    readonly spec: EmbeddedModelSpec,
    private readonly logger: Logger,
    options: EmbeddedBackendOptions = {},
  ) {
    super();
    this.load = {
      type: 'load',
      runtime: options.runtime ?? 'onnxruntime',
      modelFile: spec.modelFile,
      wasmDir: dirname(fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm'))),
      inputName: CENTERNET_INPUT,
      outputName: CENTERNET_OUTPUT,
      inputShape: [1, spec.inputHeight, spec.inputWidth, 3],
      threads: options.threads ?? defaultModelThreads(),
    };
    this.state.reason = `model "${spec.name}" is still loading`;
    this.spawn();
  }

  private spawn(): void {
    const worker = startWorker(WORKER_URL);
    this.worker = worker;
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.fail(worker, `model worker crashed: ${err.message}`));
    worker.on('exit', (code) => this.fail(worker, `model worker exited (code ${code})`));
    worker.postMessage(this.load);
  }

  infer(input: Float32Array): Promise<InferenceResult> {
    if (!this.state.ready) return Promise.reject(unavailable(this.state.reason));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker!.postMessage({ type: 'infer', id, input } satisfies ToWorker, [input.buffer as ArrayBuffer]);
    });
  }

  /** Answers the inferences already sent, then ends the worker (a stuck one after `graceMs`). */
  close(graceMs = 30_000): Promise<void> {
    return (this.closed ??= this.shutDown(graceMs));
  }

  private async shutDown(graceMs: number): Promise<void> {
    this.closing = true;
    this.state.set(false, 'shutting down');
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' } satisfies ToWorker);
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((resolve) => (timer = setTimeout(() => resolve('stuck'), graceMs)));
    if ((await Promise.race([exited, stuck])) === 'stuck') await worker.terminate();
    clearTimeout(timer);
    for (const call of this.pending.values()) call.reject(unavailable('the model worker stopped before answering'));
    this.pending.clear();
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'loaded':
        if (m.fallback) this.logger.warn({ model: this.spec.name, threads: m.threads, reason: m.fallback }, 'embedded model runs on fewer threads than configured');
        this.logger.info(
          { model: this.spec.name, runtime: m.runtime, loadMs: Math.round(m.loadMs), warmupMs: Math.round(m.warmupMs), threads: m.threads, ...m.detail },
          'embedded model loaded',
        );
        this.restarts = 0;
        this.state.set(true);
        return;
      case 'load-failed':
        this.logger.error({ model: this.spec.name, err: m.message }, 'embedded model failed to load');
        this.state.set(false, `model "${this.spec.name}" failed to load: ${m.message}`);
        return;
      case 'result':
      case 'failed': {
        const call = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.type === 'result') call?.resolve({ output: m.output, shape: m.shape });
        else call?.reject(new ServiceError(Code.INTERNAL, `model "${this.spec.name}" inference failed: ${m.message}`));
      }
    }
  }

  /** The worker died (a wasm abort, out of memory): fail its calls and start a new one. */
  private fail(worker: Worker, reason: string): void {
    if (worker !== this.worker || this.closing) return; // 'error' is followed by 'exit'
    this.worker = undefined;
    this.logger.error({ model: this.spec.name, err: reason }, 'embedded model unavailable');
    this.state.set(false, `${reason}; restarting`);
    for (const call of this.pending.values()) call.reject(unavailable(reason));
    this.pending.clear();
    // A growing pause, so a model that cannot run does not spin the CPU.
    const delay = Math.min(30_000, 1_000 * 2 ** this.restarts++);
    setTimeout(() => this.closing || this.spawn(), delay).unref();
  }
}
