import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ContainerImage } from './container-image.js';
import { ResourceSizing } from './grpc-service.js';
import { HardenedWorkload, WorkloadMount } from './hardened-workload.js';
import { requireIntInRange } from './invariants.js';
import { NamespaceConfig } from './namespace-config.js';
import { WorkloadProbe } from './workload-probe.js';

export const TRITON_NAME = 'imageflow-triton';
export const DEFAULT_TRITON_IMAGE = 'nvcr.io/nvidia/tritonserver:24.08-py3';
const TRITON_HTTP_PORT = 8000;
const TRITON_GRPC_PORT = 8001;
const TRITON_METRICS_PORT = 8002;
const PVC_MOUNT = '/models';

/** Where Triton loads its models from. */
export class TritonModelRepository {
  /**
   * An S3 location such as `s3://https://minio:9000/models` or `s3://bucket/models`; Triton reads
   * it with the S3 credentials Secret (as `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`).
   */
  public static s3(uri: string): TritonModelRepository {
    if (!uri.startsWith('s3://')) throw new Error(`Triton model repository "${uri}" must start with "s3://".`);
    return new TritonModelRepository(uri, true);
  }

  /** A PersistentVolumeClaim holding the repository, mounted read-only at /models. */
  public static persistentVolumeClaim(claimName: string, subPath = ''): TritonModelRepository {
    const path = subPath ? `${PVC_MOUNT}/${subPath.replace(/^\/+/, '')}` : PVC_MOUNT;
    return new TritonModelRepository(path, false, claimName);
  }

  /** Any other location Triton understands (`gs://`, `as://`), credentials configured by you. */
  public static uri(uri: string): TritonModelRepository {
    return new TritonModelRepository(uri, false);
  }

  private constructor(
    public readonly location: string,
    public readonly needsS3Credentials: boolean,
    public readonly claimName?: string,
  ) {}
}

export interface TritonServerProps {
  readonly config: NamespaceConfig;
  readonly modelRepository: TritonModelRepository;
  /** @default nvcr.io/nvidia/tritonserver:24.08-py3 */
  readonly image?: ContainerImage;
  /** @default 1 */
  readonly replicas?: number;
  /** @default 1 */
  readonly gpus?: number;
  /** @default 1/4 CPU, 4Gi/16Gi memory */
  readonly resources?: ResourceSizing;
  /** @default none */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** @default tolerate the `nvidia.com/gpu` taint when GPUs are requested */
  readonly tolerations?: readonly kplus.k8s.Toleration[];
  /** @default false */
  readonly serviceMonitor?: boolean;
  /**
   * UID the server runs as; the NGC image's `triton-server` user is 1000.
   * @default 1000
   */
  readonly runAsUser?: number;
}

/**
 * NVIDIA Triton Inference Server for the detection service: HTTP 8000, gRPC 8001 (KServe v2),
 * metrics 8002, probes on Triton's own `/v2/health/ready` and `/v2/health/live`.
 */
export class TritonServer extends Construct {
  public readonly name = TRITON_NAME;
  /** `host:port` of the gRPC endpoint, for `TRITON_GRPC_URL`. */
  public readonly grpcEndpoint: string;
  public readonly workload: HardenedWorkload;

  constructor(scope: Construct, id: string, props: TritonServerProps) {
    super(scope, id);
    const gpus = requireIntInRange(`${TRITON_NAME}: gpus`, props.gpus ?? 1, 0);
    const repo = props.modelRepository;
    const r = props.resources ?? {};
    const mounts: WorkloadMount[] = [
      // Triton's Python backend and CUDA IPC need a writable /dev/shm larger than the 64Mi default.
      { volume: kplus.Volume.fromEmptyDir(this, 'Shm', 'dshm', { medium: kplus.EmptyDirMedium.MEMORY, sizeLimit: Size.gibibytes(1) }), path: '/dev/shm', readOnly: false },
    ];
    if (repo.claimName) {
      const claim = kplus.PersistentVolumeClaim.fromClaimName(this, 'ModelClaim', repo.claimName);
      mounts.push({ volume: kplus.Volume.fromPersistentVolumeClaim(this, 'Models', claim, { name: 'models', readOnly: true }), path: PVC_MOUNT });
    }
    this.workload = new HardenedWorkload(this, 'Workload', {
      name: TRITON_NAME,
      namespace: props.config.namespace,
      component: 'inference-server',
      image: props.image ?? ContainerImage.fromReference(DEFAULT_TRITON_IMAGE),
      command: ['tritonserver'],
      args: [
        `--model-repository=${repo.location}`,
        `--http-port=${TRITON_HTTP_PORT}`,
        `--grpc-port=${TRITON_GRPC_PORT}`,
        `--metrics-port=${TRITON_METRICS_PORT}`,
        // Ready only when every model is loaded, so the detection service never sees a half-ready server.
        '--strict-readiness=true',
      ],
      ports: [
        { name: 'http', port: TRITON_HTTP_PORT },
        { name: 'grpc', port: TRITON_GRPC_PORT },
        { name: 'metrics', port: TRITON_METRICS_PORT },
      ],
      replicas: props.replicas ?? 1,
      resources: {
        cpu: { request: kplus.Cpu.millis(r.cpuRequestMillis ?? 1000), limit: kplus.Cpu.millis(r.cpuLimitMillis ?? 4000) },
        memory: { request: Size.mebibytes(r.memoryRequestMebibytes ?? 4096), limit: Size.mebibytes(r.memoryLimitMebibytes ?? 16384) },
        extended: gpus > 0 ? { 'nvidia.com/gpu': gpus } : undefined,
      },
      env: {
        ...(repo.needsS3Credentials
          ? {
              ...props.config.s3CredentialEnv('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'),
              AWS_DEFAULT_REGION: kplus.EnvValue.fromConfigMap(props.config.configMap, 'MINIO_REGION'),
            }
          : {}),
        HOME: kplus.EnvValue.fromValue('/tmp'),
      },
      mounts,
      tmpSizeLimit: Size.gibibytes(10),
      readiness: WorkloadProbe.httpGet('/v2/health/ready', TRITON_HTTP_PORT, { periodSeconds: 10 }),
      liveness: WorkloadProbe.httpGet('/v2/health/live', TRITON_HTTP_PORT, { periodSeconds: 20 }),
      // Loading large models from S3 takes minutes: allow up to 10.
      startup: WorkloadProbe.httpGet('/v2/health/ready', TRITON_HTTP_PORT, { periodSeconds: 10, failureThreshold: 60 }),
      metrics: { portName: 'metrics', serviceMonitor: props.serviceMonitor },
      nodeSelector: props.nodeSelector,
      tolerations: props.tolerations ?? (gpus > 0 ? [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] : []),
      runAsUser: props.runAsUser ?? 1000,
    });
    this.grpcEndpoint = `${this.workload.dnsName}:${TRITON_GRPC_PORT}`;
  }
}
