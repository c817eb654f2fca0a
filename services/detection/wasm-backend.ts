// Starts tfjs's wasm backend inside the model worker: the SIMD build on one thread, or the
// threaded SIMD build with an XNNPACK thread pool of `threads` (pthreads = worker threads).
//
// tfjs-backend-wasm never picks its threaded build in Node (its WASM_HAS_MULTITHREAD_SUPPORT flag
// is hard-wired to false there, tfjs issue #3830) and, when asked, loads its pthread script from a
// blob: URL that Node's Worker cannot start. Its C++ side also caps the pool at half the logical
// CPUs (hyper-threading), so on a 2-CPU machine it would run one thread whatever setThreadsCount
// says. So, for threads > 1, the 'wasm' backend is registered again with a factory that starts the
// same Emscripten module itself:
// - the pthread script (tfjs ships it as a string) starts from a data: URL, with `require` and
//   `__filename` provided, so no file is written;
// - the .wasm binary is read from `wasmDir` and instantiated with `emscripten_num_logical_cores`
//   answering 2 × threads, so the cap lets the requested count through;
// - the pthread workers Emscripten pre-spawns (8) beyond those the pool took are terminated.
// Kernels are registered per backend name, so every wasm kernel applies unchanged; the numbers are
// the same (XNNPACK splits the output, not the sums). If the threaded start fails, the original
// single-thread factory is put back and used, and the reason is returned.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { BackendWasm, getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);

/** Node's Worker without the parent's execArgv (see locateFile below). */
class PthreadWorker extends NodeWorker {
  constructor(script: string | URL, options: WorkerOptions = {}) {
    super(script, { ...options, execArgv: [] });
  }
}
const THREADED_JS = require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
const THREADED_WASM = 'tfjs-backend-wasm-threaded-simd.wasm';
/** tfjs-backend-wasm's priority for 'wasm' (base.ts). */
const WASM_PRIORITY = 2;

/** The part of the Emscripten module this file touches. */
interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: Array<{ terminate(): unknown }> };
}
/** The WebAssembly global (this project's TypeScript lib has no DOM/wasm typings). */
interface WasmApi {
  instantiate(binary: Uint8Array, imports: object): Promise<{ instance: object; module: object }>;
}
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmApi };
type ThreadedFactory = (config: {
  locateFile(path: string, prefix: string): string | URL;
  instantiateWasm(imports: { env: Record<string, unknown> }, receive: (instance: object, module: object) => void): object;
  onAbort(reason: unknown): void;
}) => Promise<ThreadedModule>;

export interface WasmBackendInfo {
  readonly threads: number;
  readonly simd: boolean;
  /** Why the threaded build is not in use although threads > 1 were asked for. */
  readonly fallback?: string;
}

/** Makes 'wasm' the tfjs backend with up to `threads` XNNPACK threads. */
export async function startWasmBackend(wasmDir: string, threads: number): Promise<WasmBackendInfo> {
  const prefix = wasmDir.endsWith('/') ? wasmDir : `${wasmDir}/`;
  // The path prefix is read with fs by the Emscripten loader in Node: no HTTP.
  setWasmPaths(prefix);
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) === true;
  let fallback: string | undefined;
  if (threads > 1) {
    if (!simd || typeof SharedArrayBuffer === 'undefined') fallback = 'no wasm SIMD or SharedArrayBuffer';
    else {
      const original = tf.findBackendFactory('wasm');
      let failure = 'unknown error';
      tf.removeBackend('wasm');
      tf.registerBackend(
        'wasm',
        () =>
          threadedBackend(prefix, threads).catch((err: unknown) => {
            failure = (err as Error).message ?? String(err);
            throw err;
          }),
        WASM_PRIORITY,
      );
      setThreadsCount(threads);
      if (!(await tf.setBackend('wasm'))) {
        fallback = `the threaded wasm build failed to start: ${failure}`;
        tf.removeBackend('wasm');
        tf.registerBackend('wasm', original, WASM_PRIORITY);
        setThreadsCount(1);
      }
    }
  }
  if (tf.getBackend() !== 'wasm' && !(await tf.setBackend('wasm'))) throw new Error('the tfjs wasm backend failed to initialise');
  await tf.ready();
  return { threads: getThreadsCount(), simd, ...(fallback ? { fallback } : {}) };
}

async function threadedBackend(prefix: string, threads: number): Promise<BackendWasm> {
  const factory = require(THREADED_JS) as ThreadedFactory;
  const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js') as {
    wasmWorkerContents: string;
  };
  // The script reads `require` and `__filename` (CommonJS); a data: URL module has neither.
  // The string came out of a template literal: its "\n" escapes became newlines inside string
  // literals, which tfjs turns back into escapes the same way before using it.
  const pthreadScript = new URL(
    `data:text/javascript,${encodeURIComponent(
      `import { createRequire } from 'node:module';\n` +
        `const require = createRequire(${JSON.stringify(pathToFileURL(THREADED_JS).href)});\n` +
        `const __filename = ${JSON.stringify(THREADED_JS)};\n` +
        wasmWorkerContents.replace(/\n/g, '\\n'),
    )}`,
  );
  const binary = await readFile(`${prefix}${THREADED_WASM}`);
  let aborted: unknown;
  const module = await factory({
    locateFile: (path, scriptDir) => {
      if (path.endsWith('.worker.js')) {
        // Asked right before each `new Worker(script)`, after the module set global.Worker to
        // Node's: a pthread worker runs plain JS, so it starts without this process's loader
        // flags (--import tsx would register the TypeScript loader in each of the 8).
        (globalThis as unknown as { Worker: typeof NodeWorker }).Worker = PthreadWorker;
        return pthreadScript;
      }
      return path.endsWith('.wasm') ? `${prefix}${THREADED_WASM}` : scriptDir + path;
    },
    instantiateWasm: (imports, receive) => {
      // The C++ side caps the pool at emscripten_num_logical_cores() / 2.
      imports.env.emscripten_num_logical_cores = () => 2 * threads;
      wasmApi.instantiate(binary, imports).then(
        (r) => receive(r.instance, r.module),
        (err: unknown) => (aborted = err),
      );
      return {};
    },
    onAbort: (reason) => (aborted = reason),
  });
  if (aborted !== undefined) throw new Error(`threaded wasm aborted: ${String(aborted)}`);
  Object.assign(module, {
    tfjs: {
      init: module.cwrap('init', null, []),
      initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: module.cwrap('get_threads_count', 'number', []),
      registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: module.cwrap('dispose_data', null, ['number']),
      dispose: module.cwrap('dispose', null, []),
    },
  });
  const backend = new BackendWasm(module as unknown as ConstructorParameters<typeof BackendWasm>[0]);
  // The pool has taken its threads - 1 pthreads (the calling thread is the other one); the
  // rest of Emscripten's pre-spawned workers would only hold memory.
  for (const worker of module.PThread.unusedWorkers.splice(0)) void worker.terminate();
  return backend;
}
