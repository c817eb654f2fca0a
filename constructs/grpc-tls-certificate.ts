import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { DEFAULT_GRPC_TLS_SECRET_NAME } from './grpc-tls.js';
import { PART_OF_LABEL, PART_OF_VALUE } from './hardened-workload.js';

export interface GrpcTlsCertificateProps {
  readonly namespace: string;
  /** Service names the certificate covers (short, namespaced and cluster-local DNS names). */
  readonly serviceNames: readonly string[];
  /** The cert-manager issuer that signs it. */
  readonly issuerName: string;
  /** @default "Issuer" */
  readonly issuerKind?: 'Issuer' | 'ClusterIssuer';
  /** @default "imageflow-grpc-tls" */
  readonly secretName?: string;
}

/**
 * A cert-manager `Certificate` for mutual TLS between the gateway and the gRPC services: one
 * key pair valid as server and client, so every party presents the same identity and trusts the
 * issuer's CA (`ca.crt` in the Secret). Needs cert-manager's CRDs in the cluster.
 */
export class GrpcTlsCertificate extends Construct {
  public readonly secretName: string;

  constructor(scope: Construct, id: string, props: GrpcTlsCertificateProps) {
    super(scope, id);
    if (props.serviceNames.length === 0) throw new Error('GrpcTlsCertificate: serviceNames is empty; list the Services the certificate must cover.');
    if (!props.issuerName) throw new Error('GrpcTlsCertificate: issuerName is empty; name the cert-manager Issuer or ClusterIssuer that signs it.');
    this.secretName = props.secretName ?? DEFAULT_GRPC_TLS_SECRET_NAME;
    const ns = props.namespace;
    new ApiObject(this, 'Certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: this.secretName, namespace: ns, labels: { [PART_OF_LABEL]: PART_OF_VALUE } },
      spec: {
        secretName: this.secretName,
        commonName: props.serviceNames[0],
        dnsNames: props.serviceNames.flatMap((s) => [s, `${s}.${ns}`, `${s}.${ns}.svc`, `${s}.${ns}.svc.cluster.local`]),
        usages: ['server auth', 'client auth'],
        duration: '2160h',
        renewBefore: '360h',
        privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
        issuerRef: { name: props.issuerName, kind: props.issuerKind ?? 'Issuer', group: 'cert-manager.io' },
      },
    });
  }
}
