import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ContainerImage } from './container-image.js';
import { containerProcessEnv, ResourceSizing } from './grpc-service.js';
import { grpcTlsWiring, GrpcTlsProps } from './grpc-tls.js';
import { HardenedWorkload, WorkloadAutoscaling } from './hardened-workload.js';
import { isDns1123Subdomain, requirePort } from './invariants.js';
import { NamespaceConfig } from './namespace-config.js';
import { WorkloadProbe } from './workload-probe.js';

export const GATEWAY_NAME = 'imageflow-gateway';
export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_GATEWAY_API_KEYS_SECRET = 'imageflow-gateway-api-keys';
export const DEFAULT_GATEWAY_API_KEYS_KEY = 'keys';
const API_KEYS_DIR = '/etc/imageflow/gateway';

/** The Secret holding the gateway's API keys; never created here (no literal keys in `dist/`). */
export interface GatewayApiKeysProps {
  /** @default "imageflow-gateway-api-keys" */
  readonly secretName?: string;
  /** @default "keys" */
  readonly key?: string;
}

/** The three gRPC endpoints the gateway dials (`host:port`). */
export interface GatewayBackends {
  readonly resize: string;
  readonly filter: string;
  readonly detection: string;
}

export interface GatewayProps {
  readonly config: NamespaceConfig;
  readonly image: ContainerImage;
  readonly backends: GatewayBackends;
  /** @default 2 */
  readonly replicas?: number;
  /** @default 100m/500m CPU, 256Mi/512Mi memory */
  readonly resources?: ResourceSizing;
  /** @default 8080 */
  readonly httpPort?: number;
  /** @default see {@link GatewayApiKeysProps} */
  readonly apiKeys?: GatewayApiKeysProps;
  /**
   * Buckets pipelines may read and write through the gateway.
   * @default the default bucket only
   */
  readonly allowedBuckets?: readonly string[];
  /** @default no autoscaler */
  readonly autoscaling?: WorkloadAutoscaling;
  /** @default false */
  readonly serviceMonitor?: boolean;
  /** Client certificates for mutual TLS to the gRPC services. @default plaintext */
  readonly tls?: GrpcTlsProps;
}

/**
 * The HTTP gateway the Argo HTTP templates call: Deployment + Service on 8080, `/health` and
 * `/ready` probes, `/metrics` on the same port, API keys from a Secret mounted as a file.
 */
export class Gateway extends Construct {
  public readonly name = GATEWAY_NAME;
  public readonly httpPort: number;
  /** `http://imageflow-gateway.<namespace>.svc.cluster.local:8080`. */
  public readonly url: string;
  public readonly apiKeySecretName: string;
  public readonly apiKeySecretKey: string;
  public readonly workload: HardenedWorkload;

  constructor(scope: Construct, id: string, props: GatewayProps) {
    super(scope, id);
    this.httpPort = requirePort(`${GATEWAY_NAME}: httpPort`, props.httpPort ?? DEFAULT_HTTP_PORT);
    this.apiKeySecretName = props.apiKeys?.secretName ?? DEFAULT_GATEWAY_API_KEYS_SECRET;
    this.apiKeySecretKey = props.apiKeys?.key ?? DEFAULT_GATEWAY_API_KEYS_KEY;
    if (!isDns1123Subdomain(this.apiKeySecretName)) {
      throw new Error(`${GATEWAY_NAME}: apiKeys.secretName "${this.apiKeySecretName}" is not a valid Secret name (lowercase DNS-1123 subdomain).`);
    }
    if (!/^[-._a-zA-Z0-9]+$/.test(this.apiKeySecretKey)) {
      throw new Error(`${GATEWAY_NAME}: apiKeys.key "${this.apiKeySecretKey}" is not a valid Secret key (letters, digits, '-', '_', '.').`);
    }
    const buckets = props.allowedBuckets ?? [props.config.bucket];
    if (buckets.length === 0) throw new Error(`${GATEWAY_NAME}: allowedBuckets is empty; name at least one bucket pipelines may use.`);

    const keysSecret = kplus.Secret.fromSecretName(this, 'ApiKeysSecret', this.apiKeySecretName);
    const keysVolume = kplus.Volume.fromSecret(this, 'ApiKeysVolume', keysSecret, {
      name: 'api-keys',
      defaultMode: 0o440,
      items: { [this.apiKeySecretKey]: { path: 'keys' } },
    });
    const tls = props.tls ? grpcTlsWiring(this, props.tls) : undefined;
    const r = props.resources ?? {};

    this.workload = new HardenedWorkload(this, 'Workload', {
      name: GATEWAY_NAME,
      namespace: props.config.namespace,
      component: 'gateway',
      image: props.image,
      ports: [{ name: 'http', port: this.httpPort }],
      replicas: props.replicas ?? 2,
      resources: {
        cpu: { request: kplus.Cpu.millis(r.cpuRequestMillis ?? 100), limit: kplus.Cpu.millis(r.cpuLimitMillis ?? 500) },
        memory: { request: Size.mebibytes(r.memoryRequestMebibytes ?? 256), limit: Size.mebibytes(r.memoryLimitMebibytes ?? 512) },
      },
      envFrom: [props.config.settingsEnvFrom()],
      env: {
        HTTP_PORT: kplus.EnvValue.fromValue(String(this.httpPort)),
        RESIZE_GRPC_ENDPOINT: kplus.EnvValue.fromValue(props.backends.resize),
        FILTER_GRPC_ENDPOINT: kplus.EnvValue.fromValue(props.backends.filter),
        AI_DETECTION_GRPC_ENDPOINT: kplus.EnvValue.fromValue(props.backends.detection),
        GATEWAY_API_KEYS_FILE: kplus.EnvValue.fromValue(`${API_KEYS_DIR}/keys`),
        ALLOWED_BUCKETS: kplus.EnvValue.fromValue(buckets.join(',')),
        ...containerProcessEnv(),
        ...props.config.s3CredentialEnv(),
        ...tls?.env,
      },
      mounts: [{ volume: keysVolume, path: API_KEYS_DIR, readOnly: true }, ...(tls ? [tls.mount] : [])],
      readiness: WorkloadProbe.httpGet('/ready', this.httpPort, { periodSeconds: 5, failureThreshold: 3 }),
      liveness: WorkloadProbe.httpGet('/health', this.httpPort, { periodSeconds: 20, failureThreshold: 3 }),
      startup: WorkloadProbe.httpGet('/health', this.httpPort, { periodSeconds: 2, failureThreshold: 30 }),
      autoscaling: props.autoscaling,
      metrics: { portName: 'http', serviceMonitor: props.serviceMonitor },
    });
    this.url = `http://${this.workload.dnsName}:${this.httpPort}`;
  }
}
