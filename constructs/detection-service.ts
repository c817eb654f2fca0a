import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { GrpcService, GrpcServiceProps } from './grpc-service.js';
import { requireIntInRange } from './invariants.js';

export const DETECTION_SERVICE_NAME = 'imageflow-detection';
const MODEL_REGISTRY_DIR = '/etc/imageflow/models';

/** A ConfigMap holding the model registry file the detection service reads at start-up. */
export interface ModelRegistryRef {
  readonly configMapName: string;
  /** @default "registry.json" */
  readonly key?: string;
}

export interface DetectionServiceProps extends Omit<GrpcServiceProps, 'name' | 'extendedResources'> {
  /**
   * GPUs requested (and limited to). 0 runs on CPU only and drops the GPU toleration.
   * @default 1
   */
  readonly gpus?: number;
  /** @default "nvidia.com/gpu" */
  readonly gpuResourceName?: string;
  /**
   * Triton's gRPC address (`host:port`). Empty means the service runs its embedded CPU model.
   * @default "" (embedded model)
   */
  readonly tritonGrpcUrl?: string;
  /** @default no registry file: the service's built-in model list */
  readonly modelRegistry?: ModelRegistryRef;
}

/**
 * The detection service: 1 replica, 500m/2 CPU, 1Gi/4Gi memory and one GPU by default, a
 * toleration for GPU-tainted nodes, `TRITON_GRPC_URL` wiring and a 3-minute startup window
 * for model loading.
 */
export class DetectionService extends GrpcService {
  public readonly gpus: number;

  constructor(scope: Construct, id: string, props: DetectionServiceProps) {
    const gpus = requireIntInRange(`${DETECTION_SERVICE_NAME}: gpus`, props.gpus ?? 1, 0);
    const gpuResource = props.gpuResourceName ?? 'nvidia.com/gpu';
    const defaultTolerations: kplus.k8s.Toleration[] =
      gpus > 0 ? [{ key: gpuResource, operator: 'Exists', effect: 'NoSchedule' }] : [];
    super(scope, id, {
      replicas: 1,
      startupTimeoutSeconds: 180,
      tolerations: defaultTolerations,
      ...props,
      name: DETECTION_SERVICE_NAME,
      resources: {
        cpuRequestMillis: 500,
        cpuLimitMillis: 2000,
        memoryRequestMebibytes: 1024,
        memoryLimitMebibytes: 4096,
        ...props.resources,
      },
      extendedResources: gpus > 0 ? { [gpuResource]: gpus } : undefined,
      env: {
        TRITON_GRPC_URL: kplus.EnvValue.fromValue(props.tritonGrpcUrl ?? ''),
        ...(props.modelRegistry
          ? { MODEL_REGISTRY_FILE: kplus.EnvValue.fromValue(`${MODEL_REGISTRY_DIR}/${props.modelRegistry.key ?? 'registry.json'}`) }
          : {}),
        ...props.env,
      },
      configMapMounts: [
        ...(props.modelRegistry ? [{ configMapName: props.modelRegistry.configMapName, path: MODEL_REGISTRY_DIR, volumeName: 'model-registry' }] : []),
        ...(props.configMapMounts ?? []),
      ],
    });
    this.gpus = gpus;
  }
}
