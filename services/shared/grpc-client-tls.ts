// TLS settings for callers of the gRPC services (the gateway's grpc-channel.ts), from the same
// variables the services read: with GRPC_TLS_CA_FILE the connection is TLS and verifies the
// server against that CA; with GRPC_TLS_CERT_FILE + GRPC_TLS_KEY_FILE as well it presents a
// client certificate (mTLS).
// Unset: plaintext, as before.
import { readFileSync } from 'node:fs';
import { ConfigError } from './config.js';

export interface ClientTlsEnv {
  readonly GRPC_TLS_CA_FILE?: string;
  readonly GRPC_TLS_CERT_FILE?: string;
  readonly GRPC_TLS_KEY_FILE?: string;
}

export interface ClientTlsFiles {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** The CA (and client certificate + key for mTLS) the variables name, read; undefined: plaintext. */
export function clientTlsFiles(env: ClientTlsEnv | NodeJS.ProcessEnv = process.env): ClientTlsFiles | undefined {
  const ca = env.GRPC_TLS_CA_FILE || undefined;
  const cert = env.GRPC_TLS_CERT_FILE || undefined;
  const key = env.GRPC_TLS_KEY_FILE || undefined;
  if (!ca && !cert && !key) return undefined;
  if (Boolean(cert) !== Boolean(key)) {
    throw new ConfigError('invalid configuration:\n  GRPC_TLS_CERT_FILE and GRPC_TLS_KEY_FILE must be set together');
  }
  if (!ca) throw new ConfigError('invalid configuration:\n  GRPC_TLS_CA_FILE is required to verify the services when GRPC_TLS_CERT_FILE is set');
  const read = (name: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  ${name}=${JSON.stringify(file)}: cannot read it (${(err as Error).message})`);
    }
  };
  return {
    ca: read('GRPC_TLS_CA_FILE', ca),
    cert: cert ? read('GRPC_TLS_CERT_FILE', cert) : undefined,
    key: key ? read('GRPC_TLS_KEY_FILE', key) : undefined,
  };
}
