// Section 3: the seed's "before". Every step of resize → detect → filter runs in a fresh Node
// process, the way a Pod per step runs it minus Kubernetes scheduling and image pulls: the
// service's own entry point (`node --import tsx services/<name>/main.ts`, the Dockerfile's
// command) starts, loads its libraries (and, for detection, loads and warms up the model), takes
// exactly one request that reads its input from storage and writes its output to storage, and
// exits. The time of a step is from spawn to exit.
import { spawnService, type ServiceName } from '../services/local-stack/launcher.js';
import { callDetect, callFilter, callResize, clients, output, seedRequests, source, whenAvailable } from './lib/grpc.js';

export interface ColdStep {
  readonly step: ServiceName;
  /** spawn → `READY` line (Node, tsx, imports, gRPC server listening) */
  readonly startMs: number;
  /** READY → the call answered (includes the model load for detection, and the storage round trips) */
  readonly callMs: number;
  /** SIGTERM → exit */
  readonly exitMs: number;
  readonly totalMs: number;
}

export interface ColdRun {
  readonly steps: ColdStep[];
  readonly totalMs: number;
  readonly outputKey: string;
}

async function coldStep<T>(name: ServiceName, env: Record<string, string>, call: (port: number) => Promise<T>): Promise<{ step: ColdStep; result: T }> {
  const t0 = performance.now();
  const proc = await spawnService(name, {
    env: { ...env, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', LOG_LEVEL: 'warn', SHUTDOWN_GRACE_MS: '1000' },
    readyTimeoutMs: 120_000,
  });
  const t1 = performance.now();
  let result: T;
  try {
    result = await call(proc.port);
  } catch (err) {
    await proc.stop(0);
    throw err;
  }
  const t2 = performance.now();
  await proc.stop(10_000);
  const t3 = performance.now();
  return { step: { step: name, startMs: t1 - t0, callMs: t2 - t1, exitMs: t3 - t2, totalMs: t3 - t0 }, result };
}

/** One run of the seed pipeline, a process per step, from `inputKey` in storage to an output object. */
export async function podPerStepRun(storageEnv: Record<string, string>, inputKey: string): Promise<ColdRun> {
  const t0 = performance.now();
  const steps: ColdStep[] = [];
  const resized = await coldStep('resize', storageEnv, async (port) => {
    const c = clients({ resize: port });
    try {
      const res = await callResize(c.resize!, seedRequests.resize(source.object(inputKey), output.store()));
      return res.output!.object!.key;
    } finally {
      c.close();
    }
  });
  steps.push(resized.step);
  const detected = await coldStep('detection', storageEnv, async (port) => {
    const c = clients({ detection: port });
    try {
      // UNAVAILABLE until the model has loaded: the model load is part of this step's cost.
      const res = await whenAvailable(() => callDetect(c.detection!, seedRequests.detect(source.object(resized.result))), 120_000);
      return res.detections.length;
    } finally {
      c.close();
    }
  });
  steps.push(detected.step);
  // detect passes its input image on unchanged (no drawBoxes), as in the fused pipeline.
  const filtered = await coldStep('filter', storageEnv, async (port) => {
    const c = clients({ filter: port });
    try {
      const res = await callFilter(c.filter!, seedRequests.filter(source.object(resized.result), output.store()));
      return res.output!.object!.key;
    } finally {
      c.close();
    }
  });
  steps.push(filtered.step);
  return { steps, totalMs: performance.now() - t0, outputKey: filtered.result };
}
