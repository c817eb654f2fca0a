import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { PART_OF_LABEL, PART_OF_VALUE } from './hardened-workload.js';
import { resolveOtel, type OtelProps, type ResolvedOtel } from './otel.js';
import { isDns1123Subdomain, requireDns1123Label, requireIntInRange, requirePort } from './invariants.js';

export const DEFAULT_NAMESPACE = 'image-processing';
export const DEFAULT_S3_SECRET_NAME = 'imageflow-s3-credentials';
export const DEFAULT_BUCKET = 'imageflow';
/** Same default as the services' own config (services/shared/config.ts). */
export const DEFAULT_LIMIT_INPUT_PIXELS = 50_000_000;
export const DEFAULT_GRPC_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

/** The S3-compatible storage every service reads and writes. */
export interface S3StorageProps {
  /**
   * `host:port` or an `http(s)://` URL.
   * @default the in-cluster MinioStore: "imageflow-minio.<namespace>.svc.cluster.local:9000"
   */
  readonly endpoint?: string;
  /** @default true for an https:// endpoint, false otherwise */
  readonly useSsl?: boolean;
  /** @default "us-east-1" */
  readonly region?: string;
  /** @default "imageflow" */
  readonly bucket?: string;
  /**
   * Name of an existing Secret with keys `accessKey` and `secretKey`. The manifests never hold a
   * credential: create the Secret out of band (kubectl, sealed-secrets, external-secrets).
   * @default "imageflow-s3-credentials"
   */
  readonly credentialsSecretName?: string;
}

export interface NamespaceConfigProps {
  /** @default "image-processing" */
  readonly namespace?: string;
  /**
   * Create the Namespace object (with Pod Security Admission at `restricted`). Turn off when the
   * namespace is managed elsewhere.
   * @default true
   */
  readonly createNamespace?: boolean;
  /** @default see {@link S3StorageProps} */
  readonly s3?: S3StorageProps;
  /** @default 50000000 (the services' default) */
  readonly limitInputPixels?: number;
  /** @default 67108864 (64 MiB) */
  readonly grpcMaxMessageBytes?: number;
  /** @default "info" */
  readonly logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /**
   * Export traces over OTLP/HTTP to this collector: the OTEL_* variables go into the shared
   * settings (so every service and the gateway trace), and the NetworkPolicies allow the egress.
   * @default tracing off
   */
  readonly otel?: OtelProps;
}

/** Host, port and scheme of the S3 endpoint: the services' env and the egress NetworkPolicy both need them. */
export interface S3Endpoint {
  /** As given, passed to the services unchanged. */
  readonly value: string;
  readonly host: string;
  readonly port: number;
  readonly useSsl: boolean;
}

/**
 * The namespace, the ConfigMap with the settings every process shares, and a reference to the S3
 * credentials Secret (never created here, so no credential lands in `dist/`).
 */
export class NamespaceConfig extends Construct {
  public readonly namespace: string;
  public readonly configMap: kplus.ConfigMap;
  public readonly s3CredentialsSecretName: string;
  public readonly s3CredentialsSecret: kplus.ISecret;
  public readonly s3Endpoint: S3Endpoint;
  public readonly bucket: string;
  /** The resolved tracing settings, when `otel` is set. */
  public readonly otel?: ResolvedOtel;

  constructor(scope: Construct, id: string, props: NamespaceConfigProps = {}) {
    super(scope, id);
    this.namespace = requireDns1123Label('NamespaceConfig: namespace', props.namespace ?? DEFAULT_NAMESPACE);
    const s3 = props.s3 ?? {};
    this.s3CredentialsSecretName = s3.credentialsSecretName ?? DEFAULT_S3_SECRET_NAME;
    if (!isDns1123Subdomain(this.s3CredentialsSecretName)) {
      throw new Error(`NamespaceConfig: s3.credentialsSecretName "${this.s3CredentialsSecretName}" is not a valid Secret name (lowercase DNS-1123 subdomain).`);
    }
    this.s3CredentialsSecret = kplus.Secret.fromSecretName(this, 'S3Credentials', this.s3CredentialsSecretName);
    this.bucket = s3.bucket ?? DEFAULT_BUCKET;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(this.bucket)) {
      throw new Error(`NamespaceConfig: s3.bucket "${this.bucket}" is not a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-').`);
    }
    this.s3Endpoint = parseS3Endpoint(s3.endpoint ?? `imageflow-minio.${this.namespace}.svc.cluster.local:9000`, s3.useSsl);
    if (props.otel) this.otel = resolveOtel(props.otel, this.namespace);

    if (props.createNamespace ?? true) {
      new kplus.Namespace(this, 'Namespace', {
        metadata: {
          name: this.namespace,
          labels: {
            [PART_OF_LABEL]: PART_OF_VALUE,
            // Every imageflow pod is built to pass the restricted Pod Security Standard.
            'pod-security.kubernetes.io/enforce': 'restricted',
            'pod-security.kubernetes.io/enforce-version': 'v1.27',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      });
    }

    this.configMap = new kplus.ConfigMap(this, 'Settings', {
      metadata: { name: 'imageflow-config', namespace: this.namespace, labels: { [PART_OF_LABEL]: PART_OF_VALUE } },
      data: {
        MINIO_ENDPOINT: this.s3Endpoint.value,
        MINIO_USE_SSL: String(this.s3Endpoint.useSsl),
        MINIO_REGION: s3.region ?? 'us-east-1',
        DEFAULT_BUCKET: this.bucket,
        LIMIT_INPUT_PIXELS: String(requireIntInRange('NamespaceConfig: limitInputPixels', props.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS, 1)),
        GRPC_MAX_MESSAGE_BYTES: String(
          requireIntInRange('NamespaceConfig: grpcMaxMessageBytes', props.grpcMaxMessageBytes ?? DEFAULT_GRPC_MAX_MESSAGE_BYTES, 4 * 1024 * 1024),
        ),
        LOG_LEVEL: props.logLevel ?? 'info',
        // Every process reading this ConfigMap (the gRPC services and the gateway) traces alike.
        ...this.otel?.env,
      },
    });
  }

  /** `envFrom` for the shared settings. */
  public settingsEnvFrom(): kplus.EnvFrom {
    return kplus.Env.fromConfigMap(this.configMap);
  }

  /** `MINIO_ACCESS_KEY` / `MINIO_SECRET_KEY` from the credentials Secret. */
  public s3CredentialEnv(accessKeyVar = 'MINIO_ACCESS_KEY', secretKeyVar = 'MINIO_SECRET_KEY'): Record<string, kplus.EnvValue> {
    const secret = this.s3CredentialsSecret;
    return {
      [accessKeyVar]: kplus.EnvValue.fromSecretValue({ secret, key: 'accessKey' }),
      [secretKeyVar]: kplus.EnvValue.fromSecretValue({ secret, key: 'secretKey' }),
    };
  }
}

/** Accepts `host:port`, `host` or an `http(s)://host[:port]` URL. */
export function parseS3Endpoint(value: string, useSsl?: boolean): S3Endpoint {
  const hasScheme = /^https?:\/\//.test(value);
  let url: URL;
  try {
    url = new URL(hasScheme ? value : `http://${value}`);
  } catch {
    throw new Error(`S3 endpoint "${value}" is neither "host:port" nor an http(s):// URL.`);
  }
  const ssl = useSsl ?? url.protocol === 'https:';
  const port = url.port ? Number(url.port) : ssl ? 443 : hasScheme ? 80 : 9000;
  return { value, host: url.hostname, port: requirePort(`S3 endpoint "${value}" port`, port), useSsl: ssl };
}
