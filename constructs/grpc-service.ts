import { Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ContainerImage } from './container-image.js';
import { grpcTlsWiring, GrpcTlsProps } from './grpc-tls.js';
import { HardenedWorkload, WorkloadAutoscaling, WorkloadMount } from './hardened-workload.js';
import { requireIntInRange, requirePort } from './invariants.js';
import { NamespaceConfig } from './namespace-config.js';
import { WorkloadProbe } from './workload-probe.js';
import { SERVICE_PROCESS_ENV } from '../services/shared/process-env.js';

export const DEFAULT_GRPC_PORT = 9090;
export const DEFAULT_METRICS_PORT = 9464;
/**
 * The environment every Node container starts with (MALLOC_ARENA_MAX=2: fewer glibc arenas, lower
 * peak RSS), from the one list the local launcher uses too (services/shared/process-env.ts says
 * why); the Dockerfile repeats it and a test keeps them equal. Set on every service and the gateway.
 */
export const containerProcessEnv = (): Record<string, kplus.EnvValue> =>
  Object.fromEntries(Object.entries(SERVICE_PROCESS_ENV).map(([key, value]) => [key, kplus.EnvValue.fromValue(value)]));

/** Resize's and filter's calls per core: the services' own default (services/{resize,filter}/main.ts); a test keeps the two equal. */
export const IMAGE_CALLS_PER_CORE = 2;

/**
 * The calls a service runs at once for a CPU limit: max(2, callsPerCore × ceil(limit in cores)).
 * The services' own default counts os.availableParallelism(), which in a pod is the node's cores.
 */
export function maxConcurrentCallsForCpu(cpuLimitMillis: number, callsPerCore = 1): number {
  return Math.min(1024, Math.max(2, callsPerCore * Math.ceil(cpuLimitMillis / 1000)));
}

/** CPU (in millicores) and memory (in MiB) requests and limits. */
export interface ResourceSizing {
  readonly cpuRequestMillis?: number;
  readonly cpuLimitMillis?: number;
  readonly memoryRequestMebibytes?: number;
  readonly memoryLimitMebibytes?: number;
}

/** A ConfigMap mounted read-only at `path`. */
export interface ConfigMapMount {
  readonly configMapName: string;
  readonly path: string;
  /** Name of the pod volume (a DNS-1123 label). */
  readonly volumeName: string;
}

export interface GrpcServiceProps {
  /** Name of the Deployment and the Service, e.g. "imageflow-resize". */
  readonly name: string;
  /** The namespace and shared settings. */
  readonly config: NamespaceConfig;
  readonly image: ContainerImage;
  /** @default 2 */
  readonly replicas?: number;
  /** @default 200m/1 CPU, 512Mi/1Gi memory */
  readonly resources?: ResourceSizing;
  /** Extended resources in requests and limits, e.g. `{ "nvidia.com/gpu": 1 }`. @default none */
  readonly extendedResources?: Readonly<Record<string, number>>;
  /** @default 9090 */
  readonly grpcPort?: number;
  /** @default 9464 */
  readonly metricsPort?: number;
  /** @default no autoscaler */
  readonly autoscaling?: WorkloadAutoscaling;
  /** Emit a prometheus-operator ServiceMonitor. @default false */
  readonly serviceMonitor?: boolean;
  /**
   * Serve gRPC with mutual TLS. The kubelet's native gRPC probe cannot present a client
   * certificate, so with TLS on the probes fall back to TCP connects.
   * @default plaintext gRPC inside the cluster (NetworkPolicies restrict who connects)
   */
  readonly tls?: GrpcTlsProps;
  /**
   * Calls the service processes at once (`MAX_CONCURRENT_CALLS`); more wait in its queue.
   * `env.MAX_CONCURRENT_CALLS`, when given, wins.
   * @default max(2, callsPerCore × ceil(CPU limit in cores)), e.g. 2 for the 1-CPU default limit
   */
  readonly maxConcurrentCalls?: number;
  /**
   * Calls per core of the CPU limit when `maxConcurrentCalls` is not given: 2 for resize and
   * filter, whose calls spend part of their time receiving and sending images rather than in
   * libvips (the service's MAX_CONCURRENT_CALLS default does the same).
   * @default 1
   */
  readonly callsPerCore?: number;
  /**
   * Extra environment (service-specific settings); a variable given here wins over the one the
   * construct sets (`MALLOC_ARENA_MAX`, `MAX_CONCURRENT_CALLS`, ports).
   * @default none
   */
  readonly env?: Readonly<Record<string, kplus.EnvValue>>;
  /** Extra read-only mounts. @default none */
  readonly mounts?: readonly WorkloadMount[];
  /** ConfigMaps mounted read-only as directories. @default none */
  readonly configMapMounts?: readonly ConfigMapMount[];
  /**
   * How long the server may take to start, in seconds (model loading can be slow).
   * @default 60
   */
  readonly startupTimeoutSeconds?: number;
  /** @default none */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** @default none */
  readonly tolerations?: readonly kplus.k8s.Toleration[];
}

/**
 * One persistent gRPC service (resize, filter, detection): Deployment + ClusterIP Service on
 * port 9090 with native `grpc.health.v1` probes, Prometheus metrics on 9464, env from the shared
 * ConfigMap and the S3 credentials Secret.
 */
export class GrpcService extends Construct {
  public readonly name: string;
  public readonly grpcPort: number;
  public readonly metricsPort: number;
  /** `<name>.<namespace>.svc.cluster.local:<grpcPort>`, what the gateway dials. */
  public readonly endpoint: string;
  public readonly workload: HardenedWorkload;
  /** `MAX_CONCURRENT_CALLS` as set by the construct (`env.MAX_CONCURRENT_CALLS`, when given, overrides it). */
  public readonly maxConcurrentCalls: number;

  constructor(scope: Construct, id: string, props: GrpcServiceProps) {
    super(scope, id);
    this.name = props.name;
    this.grpcPort = requirePort(`${props.name}: grpcPort`, props.grpcPort ?? DEFAULT_GRPC_PORT);
    this.metricsPort = requirePort(`${props.name}: metricsPort`, props.metricsPort ?? DEFAULT_METRICS_PORT);
    const given = props.resources ?? {};
    const r = {
      cpuRequestMillis: given.cpuRequestMillis ?? 200,
      cpuLimitMillis: given.cpuLimitMillis ?? 1000,
      memoryRequestMebibytes: given.memoryRequestMebibytes ?? 512,
      memoryLimitMebibytes: given.memoryLimitMebibytes ?? 1024,
    };
    checkSizing(props.name, r);
    this.maxConcurrentCalls =
      props.maxConcurrentCalls === undefined
        ? maxConcurrentCallsForCpu(r.cpuLimitMillis, props.callsPerCore)
        : requireIntInRange(`${props.name}: maxConcurrentCalls`, props.maxConcurrentCalls, 1, 1024);
    const startupSeconds = props.startupTimeoutSeconds ?? 60;
    if (startupSeconds < 5) throw new Error(`${props.name}: startupTimeoutSeconds is ${startupSeconds}; give the server at least 5 seconds.`);

    const tls = props.tls ? grpcTlsWiring(this, props.tls) : undefined;
    const probe = (timing: Parameters<typeof WorkloadProbe.grpc>[1]) =>
      tls ? WorkloadProbe.tcp(this.grpcPort, timing) : WorkloadProbe.grpc(this.grpcPort, timing);

    this.workload = new HardenedWorkload(this, 'Workload', {
      name: props.name,
      namespace: props.config.namespace,
      component: 'grpc-service',
      image: props.image,
      ports: [
        { name: 'grpc', port: this.grpcPort },
        { name: 'metrics', port: this.metricsPort },
      ],
      replicas: props.replicas ?? 2,
      resources: {
        cpu: { request: kplus.Cpu.millis(r.cpuRequestMillis), limit: kplus.Cpu.millis(r.cpuLimitMillis) },
        memory: { request: Size.mebibytes(r.memoryRequestMebibytes), limit: Size.mebibytes(r.memoryLimitMebibytes) },
        extended: props.extendedResources,
      },
      envFrom: [props.config.settingsEnvFrom()],
      env: {
        GRPC_PORT: kplus.EnvValue.fromValue(String(this.grpcPort)),
        METRICS_PORT: kplus.EnvValue.fromValue(String(this.metricsPort)),
        MAX_CONCURRENT_CALLS: kplus.EnvValue.fromValue(String(this.maxConcurrentCalls)),
        ...containerProcessEnv(),
        ...props.config.s3CredentialEnv(),
        ...tls?.env,
        ...props.env,
      },
      mounts: [
        ...(tls ? [tls.mount] : []),
        ...(props.configMapMounts ?? []).map((m) => ({
          volume: kplus.Volume.fromConfigMap(this, `Volume-${m.volumeName}`, kplus.ConfigMap.fromConfigMapName(this, `ConfigMap-${m.volumeName}`, m.configMapName), {
            name: m.volumeName,
          }),
          path: m.path,
          readOnly: true,
        })),
        ...(props.mounts ?? []),
      ],
      readiness: probe({ periodSeconds: 10, failureThreshold: 3 }),
      liveness: probe({ periodSeconds: 20, failureThreshold: 3 }),
      startup: probe({ periodSeconds: 5, failureThreshold: Math.ceil(startupSeconds / 5) }),
      autoscaling: props.autoscaling,
      metrics: { portName: 'metrics', serviceMonitor: props.serviceMonitor },
      nodeSelector: props.nodeSelector,
      tolerations: props.tolerations,
    });
    this.endpoint = `${this.workload.dnsName}:${this.grpcPort}`;
  }
}

function checkSizing(name: string, r: Required<ResourceSizing>): void {
  const pairs: [string, number, number][] = [
    ['cpu', r.cpuRequestMillis, r.cpuLimitMillis],
    ['memory', r.memoryRequestMebibytes, r.memoryLimitMebibytes],
  ];
  for (const [what, req, lim] of pairs) {
    for (const v of [req, lim]) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${name}: ${what} request/limit ${v} must be a positive integer (millicores or MiB).`);
    }
    if (req > lim) {
      throw new Error(`${name}: ${what} request (${req}) exceeds its limit (${lim}); raise the limit or lower the request.`);
    }
  }
}
