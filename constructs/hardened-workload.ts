import { ApiObject, JsonPatch, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ContainerImage } from './container-image.js';
import { requireDns1123Label, requireIntInRange, requirePort } from './invariants.js';
import { WorkloadProbe } from './workload-probe.js';

/** The label every imageflow object carries; NetworkPolicies and ServiceMonitors select on it. */
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
export const PART_OF_VALUE = 'imageflow';
export const NAME_LABEL = 'app.kubernetes.io/name';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';

/** The fixed non-root UID/GID of the images built by the Dockerfile. */
export const DEFAULT_RUN_AS_USER = 10001;

/** A named container port. */
export interface WorkloadPort {
  readonly name: string;
  readonly port: number;
  /**
   * Whether the Service exposes this port.
   * @default true
   */
  readonly expose?: boolean;
}

/** CPU, memory and extended resources (e.g. GPUs) of the single container. */
export interface WorkloadResources {
  readonly cpu: { readonly request: kplus.Cpu; readonly limit: kplus.Cpu };
  readonly memory: { readonly request: Size; readonly limit: Size };
  /**
   * Extended resources such as `nvidia.com/gpu`, set in both requests and limits (Kubernetes
   * requires them equal). Rendered with `kplus.k8s.Quantity`; a plain string would render null.
   * @default none
   */
  readonly extended?: Readonly<Record<string, number>>;
}

/** Horizontal autoscaling on CPU utilisation. */
export interface WorkloadAutoscaling {
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /**
   * Target average CPU utilisation, in percent of the request.
   * @default 70
   */
  readonly targetCpuUtilizationPercent?: number;
}

/** Where Prometheus finds the metrics. */
export interface WorkloadMetrics {
  /** Name of the container port serving `/metrics` (must be one of `ports`). */
  readonly portName: string;
  /** @default "/metrics" */
  readonly path?: string;
  /**
   * Also emit a prometheus-operator `ServiceMonitor` (needs its CRD in the cluster).
   * @default false
   */
  readonly serviceMonitor?: boolean;
}

/** A volume mounted into the container. */
export interface WorkloadMount {
  readonly volume: kplus.Volume;
  readonly path: string;
  /** @default true */
  readonly readOnly?: boolean;
}

export interface HardenedWorkloadProps {
  /** Name of the Deployment and the Service (a DNS-1123 label). */
  readonly name: string;
  readonly namespace: string;
  /** Value of `app.kubernetes.io/component`, e.g. "grpc-service" or "gateway". */
  readonly component: string;
  readonly image: ContainerImage;
  /** Container ports; the first one is the workload's main port. */
  readonly ports: readonly WorkloadPort[];
  readonly replicas: number;
  readonly resources: WorkloadResources;
  readonly env?: Readonly<Record<string, kplus.EnvValue>>;
  readonly envFrom?: readonly kplus.EnvFrom[];
  readonly readiness: WorkloadProbe;
  readonly liveness: WorkloadProbe;
  readonly startup: WorkloadProbe;
  /** @default no autoscaler */
  readonly autoscaling?: WorkloadAutoscaling;
  /** @default no metrics annotations */
  readonly metrics?: WorkloadMetrics;
  /** @default only the emptyDir at /tmp */
  readonly mounts?: readonly WorkloadMount[];
  /**
   * Size limit of the emptyDir mounted at /tmp (the root filesystem is read-only).
   * @default 1Gi
   */
  readonly tmpSizeLimit?: Size;
  /** @default none */
  readonly nodeSelector?: Readonly<Record<string, string>>;
  /** Raw Kubernetes tolerations. @default none */
  readonly tolerations?: readonly kplus.k8s.Toleration[];
  /** @default 10001 */
  readonly runAsUser?: number;
  /** @default IfNotPresent (images are pinned to a version tag) */
  readonly imagePullPolicy?: kplus.ImagePullPolicy;
  /**
   * Rollout strategy.
   * @default rolling update, 25% surge / 25% unavailable; with extended resources (GPUs) no surge,
   * one unavailable, since a surge pod would wait forever for the GPU the old pod holds
   */
  readonly strategy?: kplus.DeploymentStrategy;
  /** @default none */
  readonly command?: readonly string[];
  /** @default none */
  readonly args?: readonly string[];
}

/**
 * One Deployment + ClusterIP Service with the hardening every imageflow pod shares: non-root
 * fixed UID, read-only root filesystem with an emptyDir at /tmp, all capabilities dropped,
 * seccomp RuntimeDefault, topology spread across nodes, a PodDisruptionBudget when more than
 * one replica runs, and an optional HorizontalPodAutoscaler and ServiceMonitor.
 */
export class HardenedWorkload extends Construct {
  public readonly name: string;
  public readonly namespace: string;
  public readonly deployment: kplus.Deployment;
  public readonly service: kplus.Service;
  /** Labels that select exactly this workload's pods. */
  public readonly selectorLabels: Readonly<Record<string, string>>;
  /** `<name>.<namespace>.svc.cluster.local`. */
  public readonly dnsName: string;

  constructor(scope: Construct, id: string, props: HardenedWorkloadProps) {
    super(scope, id);
    this.name = requireDns1123Label(`${id}: name`, props.name);
    this.namespace = props.namespace;
    this.dnsName = `${this.name}.${this.namespace}.svc.cluster.local`;
    const replicas = requireIntInRange(`${this.name}: replicas`, props.replicas, 1);
    checkPorts(this.name, props);
    checkAutoscaling(this.name, props.autoscaling);

    this.selectorLabels = { [NAME_LABEL]: this.name, [PART_OF_LABEL]: PART_OF_VALUE };
    const labels = { ...this.selectorLabels, [COMPONENT_LABEL]: props.component };
    const runAs = props.runAsUser ?? DEFAULT_RUN_AS_USER;

    this.deployment = new kplus.Deployment(this, 'Deployment', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      // Our own selector instead of cdk8s' construct-address label: stable across refactors.
      select: false,
      replicas,
      strategy: props.strategy ?? defaultStrategy(props.resources),
      podMetadata: { labels, annotations: metricsAnnotations(props) },
      securityContext: { user: runAs, group: runAs, fsGroup: runAs, ensureNonRoot: true },
      automountServiceAccountToken: false,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: this.selectorLabels }));

    const container = this.deployment.addContainer({
      name: this.name.replace(/^imageflow-/, ''),
      image: props.image.reference,
      imagePullPolicy: props.imagePullPolicy ?? kplus.ImagePullPolicy.IF_NOT_PRESENT,
      ports: props.ports.map((p) => ({ name: p.name, number: p.port })),
      command: props.command ? [...props.command] : undefined,
      args: props.args ? [...props.args] : undefined,
      envVariables: { ...props.env },
      envFrom: props.envFrom ? [...props.envFrom] : undefined,
      resources: {
        cpu: props.resources.cpu,
        memory: props.resources.memory,
      },
      securityContext: {
        ensureNonRoot: true,
        user: runAs,
        group: runAs,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        privileged: false,
        // cdk8s-plus' Capability enum has no ALL; the API accepts the literal.
        capabilities: { drop: ['ALL' as kplus.Capability] },
      },
    });
    const tmp = kplus.Volume.fromEmptyDir(this, 'TmpVolume', 'tmp', { sizeLimit: props.tmpSizeLimit ?? Size.gibibytes(1) });
    container.mount('/tmp', tmp);
    for (const m of props.mounts ?? []) container.mount(m.path, m.volume, { readOnly: m.readOnly ?? true });

    this.patchPodSpec(props);

    this.service = new kplus.Service(this, 'Service', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: props.ports
        .filter((p) => p.expose ?? true)
        .map((p) => ({ name: p.name, port: p.port, targetPort: p.port, protocol: kplus.Protocol.TCP })),
    });
    for (const [key, value] of Object.entries(this.selectorLabels)) this.service.selectLabel(key, value);

    const minReplicas = props.autoscaling?.minReplicas ?? replicas;
    if (minReplicas > 1) this.addDisruptionBudget(labels);
    if (props.autoscaling) this.addAutoscaler(labels, props.autoscaling);
    if (props.metrics?.serviceMonitor) this.addServiceMonitor(labels, props.metrics);
  }

  /** What cdk8s-plus-27 cannot express: native probes, seccomp, spread, extended resources. */
  private patchPodSpec(props: HardenedWorkloadProps): void {
    const obj = ApiObject.of(this.deployment);
    const pod = '/spec/template/spec';
    const c = `${pod}/containers/0`;
    obj.addJsonPatch(
      // cdk8s-plus labels pods with their construct path; a refactor would then restart every pod.
      JsonPatch.remove('/spec/template/metadata/labels/cdk8s.io~1metadata.addr'),
      JsonPatch.add(`${c}/readinessProbe`, props.readiness.toJson()),
      JsonPatch.add(`${c}/livenessProbe`, props.liveness.toJson()),
      // Replaces the tcpSocket startup probe cdk8s-plus adds by default.
      JsonPatch.add(`${c}/startupProbe`, props.startup.toJson()),
      JsonPatch.add(`${pod}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }),
      JsonPatch.add(`${c}/securityContext/seccompProfile`, { type: 'RuntimeDefault' }),
      JsonPatch.add(`${pod}/topologySpreadConstraints`, [
        {
          maxSkew: 1,
          topologyKey: 'kubernetes.io/hostname',
          // ScheduleAnyway: a one-node dev cluster must still run every replica.
          whenUnsatisfiable: 'ScheduleAnyway',
          labelSelector: { matchLabels: { ...this.selectorLabels } },
        },
      ]),
    );
    for (const [resource, count] of Object.entries(props.resources.extended ?? {})) {
      requireIntInRange(`${this.name}: resources.extended["${resource}"]`, count, 0);
      if (count === 0) continue;
      const key = resource.replace(/~/g, '~0').replace(/\//g, '~1');
      const quantity = kplus.k8s.Quantity.fromNumber(count);
      obj.addJsonPatch(
        JsonPatch.add(`${c}/resources/limits/${key}`, quantity),
        JsonPatch.add(`${c}/resources/requests/${key}`, quantity),
      );
    }
    if (props.nodeSelector && Object.keys(props.nodeSelector).length > 0) {
      obj.addJsonPatch(JsonPatch.add(`${pod}/nodeSelector`, { ...props.nodeSelector }));
    }
    if (props.tolerations && props.tolerations.length > 0) {
      obj.addJsonPatch(JsonPatch.add(`${pod}/tolerations`, props.tolerations.map((t) => ({ ...t }))));
    }
    if (props.autoscaling) {
      // The HPA owns the replica count; a value in the manifest would reset it on every apply.
      obj.addJsonPatch(JsonPatch.remove('/spec/replicas'));
    }
  }

  private addDisruptionBudget(labels: Record<string, string>): void {
    new kplus.k8s.KubePodDisruptionBudget(this, 'Pdb', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      spec: {
        // maxUnavailable (not minAvailable) keeps node drains possible at any replica count.
        maxUnavailable: kplus.k8s.IntOrString.fromNumber(1),
        selector: { matchLabels: { ...this.selectorLabels } },
      },
    });
  }

  private addAutoscaler(labels: Record<string, string>, a: WorkloadAutoscaling): void {
    new kplus.k8s.KubeHorizontalPodAutoscalerV2(this, 'Hpa', {
      metadata: { name: this.name, namespace: this.namespace, labels },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: this.name },
        minReplicas: a.minReplicas,
        maxReplicas: a.maxReplicas,
        metrics: [
          {
            type: 'Resource',
            resource: {
              name: 'cpu',
              target: { type: 'Utilization', averageUtilization: a.targetCpuUtilizationPercent ?? 70 },
            },
          },
        ],
      },
    });
  }

  private addServiceMonitor(labels: Record<string, string>, m: WorkloadMetrics): void {
    new ApiObject(this, 'ServiceMonitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: this.name, namespace: this.namespace, labels },
      spec: {
        selector: { matchLabels: { ...this.selectorLabels } },
        endpoints: [{ port: m.portName, path: m.path ?? '/metrics', interval: '30s' }],
      },
    });
  }
}

function defaultStrategy(resources: WorkloadResources): kplus.DeploymentStrategy {
  const usesExtended = Object.values(resources.extended ?? {}).some((n) => n > 0);
  return usesExtended
    ? kplus.DeploymentStrategy.rollingUpdate({ maxSurge: kplus.PercentOrAbsolute.absolute(0), maxUnavailable: kplus.PercentOrAbsolute.absolute(1) })
    : kplus.DeploymentStrategy.rollingUpdate();
}

function metricsAnnotations(props: HardenedWorkloadProps): Record<string, string> | undefined {
  if (!props.metrics) return undefined;
  const port = props.ports.find((p) => p.name === props.metrics?.portName);
  return {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': String(port?.port),
    'prometheus.io/path': props.metrics.path ?? '/metrics',
  };
}

function checkPorts(name: string, props: HardenedWorkloadProps): void {
  if (props.ports.length === 0) throw new Error(`${name}: declare at least one container port.`);
  const seen = new Set<number>();
  for (const p of props.ports) {
    requirePort(`${name}: port "${p.name}"`, p.port);
    if (p.name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name)) {
      throw new Error(`${name}: port name "${p.name}" must be at most 15 lowercase letters, digits or '-'.`);
    }
    if (seen.has(p.port)) throw new Error(`${name}: port ${p.port} is declared twice; give each port its own number.`);
    seen.add(p.port);
  }
  for (const [kind, probe] of [['readiness', props.readiness], ['liveness', props.liveness], ['startup', props.startup]] as const) {
    if (!seen.has(probe.port)) {
      throw new Error(`${name}: the ${kind} probe targets port ${probe.port}, which the container does not declare; use one of ${[...seen].join(', ')}.`);
    }
  }
  if (props.metrics && !props.ports.some((p) => p.name === props.metrics?.portName)) {
    throw new Error(`${name}: metrics.portName "${props.metrics.portName}" is not one of the container ports (${props.ports.map((p) => p.name).join(', ')}).`);
  }
}

function checkAutoscaling(name: string, a: WorkloadAutoscaling | undefined): void {
  if (!a) return;
  requireIntInRange(`${name}: autoscaling.minReplicas`, a.minReplicas, 1);
  requireIntInRange(`${name}: autoscaling.maxReplicas`, a.maxReplicas, a.minReplicas);
  if (a.targetCpuUtilizationPercent !== undefined) {
    requireIntInRange(`${name}: autoscaling.targetCpuUtilizationPercent`, a.targetCpuUtilizationPercent, 1, 100);
  }
}
