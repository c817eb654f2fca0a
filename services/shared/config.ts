// Configuration comes from environment variables, parsed once at start-up. A bad value stops the
// process with a message naming the variable and what it accepts.
import { z } from 'zod';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses `env` with `schema`; throws ConfigError listing every bad variable. */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(environment)');
    return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

const emptyAsUndefined = (v: unknown) => (v === '' ? undefined : v);

export const envPort = (fallback: number) =>
  z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65_535).default(fallback));

export const envInt = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(emptyAsUndefined, z.coerce.number().int().min(min).max(max).default(fallback));

export const envBool = (fallback: boolean) =>
  z.preprocess(
    emptyAsUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

export const envString = (fallback: string) => z.preprocess(emptyAsUndefined, z.string().default(fallback));
export const envOptionalString = () => z.preprocess(emptyAsUndefined, z.string().optional());

export const LogLevel = z.preprocess(
  emptyAsUndefined,
  z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
);

/** HTTP/2 receive window per stream and per connection, for gRPC servers and the gateway's client (HTTP/2's own is 64 KiB). */
export const grpcFlowControlWindowBytes = envInt(8 * 1024 * 1024, 65_535, 2 ** 31 - 1);

/** Settings every image service shares: storage, limits, logging. */
export const serviceEnvShape = {
  GRPC_PORT: envPort(9090),
  GRPC_HOST: envString('0.0.0.0'),
  GRPC_MAX_MESSAGE_BYTES: envInt(64 * 1024 * 1024, 1024, 2 ** 31 - 1),
  GRPC_FLOW_CONTROL_WINDOW_BYTES: grpcFlowControlWindowBytes,
  LIMIT_INPUT_PIXELS: envInt(50_000_000, 1, 2 ** 32),
  LOG_LEVEL: LogLevel,
  MINIO_ENDPOINT: envOptionalString(),
  MINIO_ACCESS_KEY: envOptionalString(),
  MINIO_SECRET_KEY: envOptionalString(),
  MINIO_USE_SSL: envBool(false),
  MINIO_REGION: envString('us-east-1'),
  MINIO_TIMEOUT_MS: envInt(10_000, 100),
  DEFAULT_BUCKET: envString('imageflow'),
  SHUTDOWN_GRACE_MS: envInt(25_000, 0),
};
export const ServiceEnv = z.object(serviceEnvShape);
export type ServiceEnv = z.infer<typeof ServiceEnv>;
