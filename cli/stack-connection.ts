// Where `run` finds a gateway and storage: an explicit --gateway (storage from --s3-* or the
// environment), a stack started by `imageflow up` (it leaves a state file), or else a stack started
// just for this command on free ports and stopped afterwards.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../services/local-stack/stack.js';
import { Storage } from '../services/shared/storage.js';
import { clusterError } from './exit-codes.js';

export interface StackState {
  readonly pid: number;
  readonly gateway: string;
  readonly s3: { readonly endpoint: string; readonly accessKey: string; readonly secretKey: string };
  readonly bucket: string;
}

export interface StackConnection {
  readonly gatewayUrl: string;
  readonly storage: Storage;
  readonly bucket: string;
  /** How it was found, for the first line of output. */
  readonly origin: string;
  close(): Promise<void>;
}

export const stackStateFile = (env = process.env) => env.IMAGEFLOW_STACK_FILE ?? join(tmpdir(), 'imageflow-stack.json');

export function writeStackState(stack: LocalStack): string {
  const gateway = stack.endpoints.find(([n]) => n === 'gateway')?.[1];
  const file = stackStateFile();
  if (!gateway) return file;
  const state: StackState = { pid: process.pid, gateway, s3: stack.s3, bucket: stack.bucket };
  writeFileSync(file, JSON.stringify(state, null, 2));
  return file;
}

export function removeStackState(): void {
  const file = stackStateFile();
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as StackState;
    if (state.pid === process.pid) rmSync(file);
  } catch {
    // already gone
  }
}

/** The state of a running `imageflow up`, if its process is still alive. */
export function runningStack(): StackState | undefined {
  const file = stackStateFile();
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as StackState;
    process.kill(state.pid, 0);
    return state;
  } catch {
    return undefined;
  }
}

export interface ConnectOptions {
  readonly gateway?: string;
  readonly s3Endpoint?: string;
  readonly bucket?: string;
  /** Log lines of the services of a stack started for this command. */
  readonly onServiceLine?: (name: string, line: string) => void;
  /** Told before a stack is started for this command (it takes a while: the detector loads). */
  readonly onStartingStack?: () => void;
}

export async function connectStack(options: ConnectOptions): Promise<StackConnection> {
  const env = process.env;
  if (options.gateway) {
    const endpoint = options.s3Endpoint ?? env.MINIO_ENDPOINT ?? runningStack()?.s3.endpoint;
    if (!endpoint) throw clusterError('--gateway needs storage too: pass --s3-endpoint (and MINIO_ACCESS_KEY/MINIO_SECRET_KEY) so inputs can be uploaded');
    const fromUp = runningStack();
    const storage = new Storage({
      endpoint,
      accessKey: env.MINIO_ACCESS_KEY ?? fromUp?.s3.accessKey ?? '',
      secretKey: env.MINIO_SECRET_KEY ?? fromUp?.s3.secretKey ?? '',
      timeoutMs: 10_000,
    });
    return { gatewayUrl: options.gateway, storage, bucket: options.bucket ?? env.DEFAULT_BUCKET ?? 'imageflow', origin: `gateway ${options.gateway}`, close: async () => {} };
  }
  const up = runningStack();
  if (up) {
    const storage = new Storage({ ...up.s3, timeoutMs: 10_000 });
    return { gatewayUrl: up.gateway, storage, bucket: options.bucket ?? up.bucket, origin: `the stack of \`imageflow up\` (pid ${up.pid})`, close: async () => {} };
  }
  options.onStartingStack?.();
  // Free ports, so this never collides with `imageflow up` or another run.
  const stack = await startLocalStack({
    env: { ...env, S3_PORT: '0', RESIZE_PORT: '0', FILTER_PORT: '0', DETECTION_PORT: '0', GATEWAY_PORT: '0', MINIO_ENDPOINT: '' },
    onLine: options.onServiceLine,
  }).catch((err: Error) => {
    throw clusterError(`could not start the local stack: ${err.message}`);
  });
  const gateway = stack.endpoints.find(([n]) => n === 'gateway')?.[1];
  if (!gateway) {
    await stack.stop();
    throw clusterError('this checkout has no gateway (services/gateway/main.ts); pass --gateway URL');
  }
  return { gatewayUrl: gateway, storage: stack.storage, bucket: options.bucket ?? stack.bucket, origin: 'a local stack started for this run', close: () => stack.stop() };
}
