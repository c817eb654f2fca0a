// Real service processes and gRPC clients for tests.
import * as grpc from '@grpc/grpc-js';
import { spawnService, type ServiceName, type ServiceProcess } from '../../services/local-stack/launcher.js';
import { ResizeServiceClient } from '../../services/shared/gen/imageflow/v1/resize.js';
import { FilterServiceClient } from '../../services/shared/gen/imageflow/v1/filter.js';

export async function startService(name: ServiceName, env: Record<string, string>): Promise<ServiceProcess> {
  return spawnService(name, { env: { GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', LOG_LEVEL: 'warn', ...env } });
}

const clientOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.max_send_message_length': 64 * 1024 * 1024 };

export const resizeClient = (port: number) =>
  new ResizeServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), clientOptions);
export const filterClient = (port: number) =>
  new FilterServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), clientOptions);

type UnaryMethod<Req, Res> = (req: Req, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

/** Calls a unary method as a promise, with a deadline so a test never hangs. */
export function call<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, req: Req, timeoutMs = 20_000): Promise<Res> {
  return new Promise((resolve, reject) =>
    method.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

/** The status code a call failed with (or 'OK'). */
export async function codeOf<Req, Res>(client: grpc.Client, method: UnaryMethod<Req, Res>, req: Req): Promise<string> {
  try {
    await call(client, method, req);
    return 'OK';
  } catch (err) {
    return grpc.status[(err as grpc.ServiceError).code];
  }
}
