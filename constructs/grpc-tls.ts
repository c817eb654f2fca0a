import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';

/** Where the TLS material is mounted in every gRPC container (and the gateway, as a client). */
export const GRPC_TLS_MOUNT_PATH = '/etc/imageflow/tls';
export const DEFAULT_GRPC_TLS_SECRET_NAME = 'imageflow-grpc-tls';

/**
 * Mutual TLS between the gateway and the gRPC services. The Secret has the cert-manager layout
 * (`tls.crt`, `tls.key`, `ca.crt`); create it yourself or let {@link GrpcTlsCertificate} issue it.
 */
export interface GrpcTlsProps {
  /** @default "imageflow-grpc-tls" */
  readonly secretName?: string;
}

/** The env and the read-only volume that give a container the TLS files. */
export function grpcTlsWiring(scope: Construct, tls: GrpcTlsProps): {
  env: Record<string, kplus.EnvValue>;
  mount: { volume: kplus.Volume; path: string; readOnly: boolean };
} {
  const secret = kplus.Secret.fromSecretName(scope, 'GrpcTlsSecret', tls.secretName ?? DEFAULT_GRPC_TLS_SECRET_NAME);
  const volume = kplus.Volume.fromSecret(scope, 'GrpcTlsVolume', secret, { name: 'grpc-tls', defaultMode: 0o440 });
  return {
    env: {
      GRPC_TLS_CERT_FILE: kplus.EnvValue.fromValue(`${GRPC_TLS_MOUNT_PATH}/tls.crt`),
      GRPC_TLS_KEY_FILE: kplus.EnvValue.fromValue(`${GRPC_TLS_MOUNT_PATH}/tls.key`),
      GRPC_TLS_CA_FILE: kplus.EnvValue.fromValue(`${GRPC_TLS_MOUNT_PATH}/ca.crt`),
    },
    mount: { volume, path: GRPC_TLS_MOUNT_PATH, readOnly: true },
  };
}
