import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { NAME_LABEL, PART_OF_LABEL, PART_OF_VALUE } from './hardened-workload.js';
import { requireDns1123Label, requirePort } from './invariants.js';

/** The label key Argo puts on every pod of a workflow, the HTTP agent's included. */
export const ARGO_WORKFLOW_LABEL = 'workflows.argoproj.io/workflow';
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A workload the policies talk about: the labels of its pods and the port(s) it serves. */
export interface PolicyTarget {
  readonly podLabels: Readonly<Record<string, string>>;
  readonly port: number;
  /** @default no metrics port */
  readonly metricsPort?: number;
}

/** Who else may call the gateway: pods in this namespace, a whole namespace, or pods there. */
export interface GatewayClient {
  /** @default this namespace */
  readonly namespace?: string;
  /** @default every pod of the namespace */
  readonly podLabels?: Readonly<Record<string, string>>;
}

/** Where the S3 storage is: in-cluster pods (MinioStore) or addresses outside the namespace. */
export interface StorageEgress {
  readonly port: number;
  /** Pods of an in-cluster store in this namespace. @default none */
  readonly podLabels?: Readonly<Record<string, string>>;
  /** CIDRs of an external store. @default ["0.0.0.0/0"] when no podLabels */
  readonly cidrs?: readonly string[];
}

export interface ImageFlowNetworkPoliciesProps {
  readonly namespace: string;
  readonly gateway: PolicyTarget;
  readonly grpcServices: readonly PolicyTarget[];
  readonly detection: PolicyTarget;
  readonly storage: StorageEgress;
  /** In-cluster Triton. @default none */
  readonly triton?: PolicyTarget & { readonly httpPort: number; /** Triton reads an S3 model repository. */ readonly readsStorage?: boolean };
  /** Triton outside the namespace, reached by address. @default none */
  readonly externalTriton?: { readonly port: number; readonly cidrs: readonly string[] };
  /** In-cluster MinIO and the pods of its bucket Job. @default none */
  readonly minio?: PolicyTarget & { readonly jobPodLabels: Readonly<Record<string, string>> };
  /** Callers of the gateway besides Argo's workflow pods. @default none */
  readonly gatewayClients?: readonly GatewayClient[];
  /**
   * Other namespaces whose Argo workflow pods may call the gateway.
   * @default only workflows running in this namespace
   */
  readonly workflowNamespaces?: readonly string[];
  /**
   * Namespace Prometheus scrapes from; metrics ports accept traffic from it.
   * @default "monitoring"
   */
  readonly monitoringNamespace?: string;
  /** An OpenTelemetry collector the gateway and the gRPC services send spans to. @default none */
  readonly otelCollector?: OtelCollectorEgress;
}

/** Where spans go: pods of a namespace (in-cluster collector) or CIDRs (outside the cluster). */
export interface OtelCollectorEgress {
  readonly port: number;
  readonly namespace?: string;
  /** @default every pod of `namespace` */
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly cidrs?: readonly string[];
}

/**
 * Default-deny for every imageflow pod, then exactly the flows the system needs: workflow pods →
 * gateway → gRPC services → S3 (and detection → Triton), DNS for everyone, metrics from the
 * monitoring namespace.
 */
export class ImageFlowNetworkPolicies extends Construct {
  private readonly ns: string;

  constructor(scope: Construct, id: string, props: ImageFlowNetworkPoliciesProps) {
    super(scope, id);
    this.ns = props.namespace;
    const monitoring = requireDns1123Label('ImageFlowNetworkPolicies: monitoringNamespace', props.monitoringNamespace ?? 'monitoring');
    const allImageflow = { matchLabels: { [PART_OF_LABEL]: PART_OF_VALUE } };
    const fromMonitoring: kplus.k8s.NetworkPolicyPeer = { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: monitoring } } };
    const gatewayPods: kplus.k8s.NetworkPolicyPeer = { podSelector: { matchLabels: { ...props.gateway.podLabels } } };
    const grpcPods = [...props.grpcServices, props.detection];

    this.policy('default-deny', allImageflow, ['Ingress', 'Egress'], {});
    this.policy('allow-dns', allImageflow, ['Egress'], {
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
          ports: [port(53, 'UDP'), port(53, 'TCP')],
        },
      ],
    });

    // Only the gateway reaches the gRPC services; Prometheus reaches their metrics port.
    for (const svc of grpcPods) {
      const name = svc.podLabels[NAME_LABEL] ?? 'grpc';
      this.policy(`${name.replace(/^imageflow-/, '')}-ingress`, { matchLabels: { ...svc.podLabels } }, ['Ingress'], {
        ingress: [
          { from: [gatewayPods], ports: [port(svc.port)] },
          ...(svc.metricsPort ? [{ from: [fromMonitoring], ports: [port(svc.metricsPort)] }] : []),
        ],
      });
    }

    // Argo's workflow pods (the HTTP agent) and the user's named clients reach the gateway.
    const workflowPods = { matchExpressions: [{ key: ARGO_WORKFLOW_LABEL, operator: 'Exists' }] };
    const clients: kplus.k8s.NetworkPolicyPeer[] = [
      { podSelector: workflowPods },
      ...(props.workflowNamespaces ?? []).map((ns) => ({
        namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: requireDns1123Label('workflowNamespaces entry', ns) } },
        podSelector: workflowPods,
      })),
      ...(props.gatewayClients ?? []).map((c) => clientPeer(c)),
    ];
    this.policy('gateway-ingress', { matchLabels: { ...props.gateway.podLabels } }, ['Ingress'], {
      ingress: [
        { from: clients, ports: [port(props.gateway.port)] },
        { from: [fromMonitoring], ports: [port(props.gateway.metricsPort ?? props.gateway.port)] },
      ],
    });
    this.policy('gateway-egress', { matchLabels: { ...props.gateway.podLabels } }, ['Egress'], {
      egress: grpcPods.map((svc) => ({ to: [{ podSelector: { matchLabels: { ...svc.podLabels } } }], ports: [port(svc.port)] })),
    });

    // Storage egress for everything that reads or writes objects.
    const storageClients = [props.gateway, ...grpcPods].map((t) => t.podLabels[NAME_LABEL]).filter((n): n is string => !!n);
    if (props.minio) storageClients.push(props.minio.jobPodLabels[NAME_LABEL] ?? '');
    this.policy('storage-egress', { matchExpressions: [{ key: NAME_LABEL, operator: 'In', values: storageClients.filter(Boolean) }] }, ['Egress'], {
      egress: [{ to: storagePeers(props.storage), ports: [port(requirePort('storage port', props.storage.port))] }],
    });

    if (props.triton) {
      this.policy('detection-to-triton', { matchLabels: { ...props.detection.podLabels } }, ['Egress'], {
        egress: [{ to: [{ podSelector: { matchLabels: { ...props.triton.podLabels } } }], ports: [port(props.triton.port)] }],
      });
      this.policy('triton-ingress', { matchLabels: { ...props.triton.podLabels } }, ['Ingress'], {
        ingress: [
          { from: [{ podSelector: { matchLabels: { ...props.detection.podLabels } } }], ports: [port(props.triton.port), port(props.triton.httpPort)] },
          ...(props.triton.metricsPort ? [{ from: [fromMonitoring], ports: [port(props.triton.metricsPort)] }] : []),
        ],
      });
      if (props.triton.readsStorage) {
        // An S3 model repository is read by Triton itself.
        this.policy('triton-storage-egress', { matchLabels: { ...props.triton.podLabels } }, ['Egress'], {
          egress: [{ to: storagePeers(props.storage), ports: [port(props.storage.port)] }],
        });
      }
    } else if (props.externalTriton) {
      this.policy('detection-to-triton', { matchLabels: { ...props.detection.podLabels } }, ['Egress'], {
        egress: [{ to: props.externalTriton.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [port(props.externalTriton.port)] }],
      });
    }

    // Spans leave the gateway and the gRPC services for the collector; nothing else may.
    if (props.otelCollector) {
      const exporters = [props.gateway, ...grpcPods].map((t) => t.podLabels[NAME_LABEL]).filter((n): n is string => !!n);
      this.policy('otel-egress', { matchExpressions: [{ key: NAME_LABEL, operator: 'In', values: exporters }] }, ['Egress'], {
        egress: [{ to: otelPeers(props.otelCollector), ports: [port(requirePort('otel collector port', props.otelCollector.port))] }],
      });
    }

    if (props.minio) {
      const minio = props.minio;
      const callers = [props.gateway, ...grpcPods, ...(props.triton ? [props.triton] : [])].map((t) => t.podLabels[NAME_LABEL]);
      callers.push(minio.jobPodLabels[NAME_LABEL]);
      this.policy('minio-ingress', { matchLabels: { ...minio.podLabels } }, ['Ingress'], {
        ingress: [
          {
            from: [{ podSelector: { matchExpressions: [{ key: NAME_LABEL, operator: 'In', values: callers.filter((n): n is string => !!n) }] } }],
            ports: [port(minio.port)],
          },
        ],
      });
    }
  }

  private policy(
    suffix: string,
    podSelector: kplus.k8s.LabelSelector,
    policyTypes: ('Ingress' | 'Egress')[],
    rules: { ingress?: kplus.k8s.NetworkPolicyIngressRule[]; egress?: kplus.k8s.NetworkPolicyEgressRule[] },
  ): void {
    new kplus.k8s.KubeNetworkPolicy(this, suffix, {
      metadata: { name: `imageflow-${suffix}`, namespace: this.ns, labels: { [PART_OF_LABEL]: PART_OF_VALUE } },
      spec: { podSelector, policyTypes, ...rules },
    });
  }
}

function port(n: number, protocol: 'TCP' | 'UDP' = 'TCP'): kplus.k8s.NetworkPolicyPort {
  return { port: kplus.k8s.IntOrString.fromNumber(n), protocol };
}

function clientPeer(c: GatewayClient): kplus.k8s.NetworkPolicyPeer {
  if (!c.namespace && !c.podLabels) {
    throw new Error('ImageFlowNetworkPolicies: a gatewayClients entry needs a namespace, podLabels or both; an empty entry would allow nothing.');
  }
  return {
    ...(c.namespace
      ? { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: requireDns1123Label('gatewayClients namespace', c.namespace) } } }
      : {}),
    ...(c.podLabels ? { podSelector: { matchLabels: { ...c.podLabels } } } : {}),
  };
}

function storagePeers(s: StorageEgress): kplus.k8s.NetworkPolicyPeer[] {
  if (s.podLabels) return [{ podSelector: { matchLabels: { ...s.podLabels } } }];
  return (s.cidrs ?? ['0.0.0.0/0']).map((cidr) => ({ ipBlock: { cidr } }));
}

function otelPeers(c: OtelCollectorEgress): kplus.k8s.NetworkPolicyPeer[] {
  if (c.cidrs?.length) return c.cidrs.map((cidr) => ({ ipBlock: { cidr } }));
  if (!c.namespace) throw new Error('ImageFlowNetworkPolicies: otelCollector needs a namespace or cidrs.');
  return [
    {
      namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: requireDns1123Label('otelCollector namespace', c.namespace) } },
      ...(c.podLabels ? { podSelector: { matchLabels: { ...c.podLabels } } } : {}),
    },
  ];
}
