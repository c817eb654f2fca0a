// Starts service processes the way a cluster would, one OS process each, and waits until each
// says it is listening. Used by `npm run dev`, `imageflow up`, the tests and the benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { SERVICE_NODE_FLAGS } from '../shared/node-flags.js';
import { SERVICE_PROCESS_ENV } from '../shared/process-env.js';

export type ServiceName = 'resize' | 'filter' | 'detection' | 'gateway';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const serviceEntry = (name: ServiceName) => fileURLToPath(new URL(`../${name}/main.ts`, import.meta.url));
export const serviceExists = (name: ServiceName) => existsSync(serviceEntry(name));

export interface ServiceProcess {
  readonly name: ServiceName;
  readonly port: number;
  /** Where a gRPC service serves Prometheus metrics, as bound (the gateway serves them on `port`). */
  readonly metricsPort?: number;
  readonly child: ChildProcess;
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  readonly env: Record<string, string | undefined>;
  /** @default 60000 (the detection service loads a model) */
  readonly readyTimeoutMs?: number;
  /** Called with every stdout/stderr line (logs). @default drop */
  readonly onLine?: (name: ServiceName, line: string) => void;
}

/** Spawns services/<name>/main.ts and resolves once it prints `READY <name> <port>` (gRPC services add `metrics <port>`). */
export function spawnService(name: ServiceName, options: SpawnOptions): Promise<ServiceProcess> {
  // IMAGEFLOW_NODE_ARGS: Node flags for every service process, e.g. to profile a benchmark
  // (`--cpu-prof --cpu-prof-dir=/tmp/prof`; NODE_OPTIONS refuses --cpu-prof).
  const nodeArgs = process.env.IMAGEFLOW_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, ...nodeArgs, '--import', 'tsx', serviceEntry(name)], {
    cwd: REPO_ROOT,
    // The containers' defaults first: this shell's environment and the caller's settings win.
    env: { ...SERVICE_PROCESS_ENV, ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const tail: string[] = [];
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > 20) tail.shift();
    options.onLine?.(name, line);
  };
  createInterface({ input: child.stderr! }).on('line', remember);
  const stop = async (graceMs = 5_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<ServiceProcess>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      void stop(0);
      reject(new Error(`${name} did not start within ${timeoutMs} ms; last output:\n${tail.join('\n')}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const ready = /^READY (\S+) (\d+)(?: metrics (\d+))?$/.exec(line);
      if (ready && ready[1] === name) {
        clearTimeout(timer);
        resolve({ name, port: Number(ready[2]), metricsPort: ready[3] ? Number(ready[3]) : undefined, child, exited, stop });
      } else remember(line);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready; last output:\n${tail.join('\n')}`));
    });
  });
}
