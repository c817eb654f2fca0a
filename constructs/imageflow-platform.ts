import { Construct } from 'constructs';
import { ContainerImage, ImageflowImageOptions } from './container-image.js';
import { DetectionService, DetectionServiceProps } from './detection-service.js';
import { FilterService, FilterServiceProps } from './filter-service.js';
import { Gateway, GatewayProps } from './gateway.js';
import { GrpcService } from './grpc-service.js';
import { GrpcTlsCertificate } from './grpc-tls-certificate.js';
import { DEFAULT_GRPC_TLS_SECRET_NAME, GrpcTlsProps } from './grpc-tls.js';
import { MinioStore, MinioStoreProps, MINIO_PORT } from './minio-store.js';
import { NamespaceConfig, NamespaceConfigProps, parseS3Endpoint } from './namespace-config.js';
import { GatewayClient, ImageFlowNetworkPolicies, PolicyTarget } from './network-policies.js';
import { ResizeService, ResizeServiceProps } from './resize-service.js';
import { TritonServer, TritonServerProps } from './triton-server.js';
import { WorkflowRbac } from './workflow-rbac.js';

/** Per-service options; the platform supplies config, image, TLS and ServiceMonitor wiring. */
type Managed = 'config' | 'image' | 'tls' | 'serviceMonitor';

export interface GrpcTlsOptions extends GrpcTlsProps {
  /**
   * Have cert-manager issue the Secret with this Issuer/ClusterIssuer.
   * @default none: create the Secret yourself
   */
  readonly certManagerIssuer?: { readonly name: string; readonly kind?: 'Issuer' | 'ClusterIssuer' };
}

export interface NetworkPolicyOptions {
  /** Callers of the gateway besides Argo's workflow pods. @default none */
  readonly gatewayClients?: readonly GatewayClient[];
  /** Other namespaces whose Argo workflow pods may call the gateway. @default this namespace only */
  readonly workflowNamespaces?: readonly string[];
  /** @default "monitoring" */
  readonly monitoringNamespace?: string;
  /** CIDRs of an external S3 endpoint. @default ["0.0.0.0/0"] */
  readonly s3EgressCidrs?: readonly string[];
  /** CIDRs of an external Triton (when `detection.tritonGrpcUrl` is set). @default ["0.0.0.0/0"] */
  readonly tritonEgressCidrs?: readonly string[];
}

export interface ImageFlowPlatformProps extends NamespaceConfigProps {
  /** Registry and tag of the imageflow images. @default ghcr.io/imageflow/<service>:<package version> */
  readonly images?: ImageflowImageOptions;
  /** @default 2 replicas, 200m/1 CPU, 512Mi/1Gi */
  readonly resize?: Omit<ResizeServiceProps, Managed>;
  /** @default 2 replicas, 200m/1 CPU, 512Mi/1Gi */
  readonly filter?: Omit<FilterServiceProps, Managed>;
  /** @default 1 replica, 500m/2 CPU, 1Gi/4Gi, 1 GPU, embedded model */
  readonly detection?: Omit<DetectionServiceProps, Managed>;
  /** @default 2 replicas, 100m/500m CPU, 256Mi/512Mi */
  readonly gateway?: Omit<GatewayProps, Managed | 'backends'>;
  /** Run Triton in the namespace and point the detection service at it. @default no Triton */
  readonly triton?: Omit<TritonServerProps, 'config' | 'serviceMonitor'>;
  /** Run MinIO in the namespace (and use it as the S3 endpoint). @default false */
  readonly minio?: boolean | Omit<MinioStoreProps, 'config'>;
  /** Emit prometheus-operator ServiceMonitors. @default false */
  readonly serviceMonitors?: boolean;
  /** Mutual TLS between gateway and gRPC services. @default plaintext */
  readonly grpcTls?: GrpcTlsOptions;
  /** NetworkPolicies; `false` emits none. @default enabled */
  readonly networkPolicies?: boolean | NetworkPolicyOptions;
  /** @default "imageflow-workflow" */
  readonly workflowServiceAccountName?: string;
  /**
   * Let workflow pods `get` the gateway API key Secret (for HTTP template headers from a Secret).
   * @default true
   */
  readonly workflowReadsApiKeySecret?: boolean;
}

/**
 * Everything imageflow runs in a cluster, from one props object: namespace and settings, the
 * three gRPC services, the gateway, Argo RBAC, NetworkPolicies, and optionally Triton, MinIO,
 * ServiceMonitors and cert-manager certificates. The pipeline compiler reads the public fields.
 */
export class ImageFlowPlatform extends Construct {
  public readonly namespace: string;
  /** Base URL the WorkflowTemplates' HTTP steps call. */
  public readonly gatewayUrl: string;
  public readonly workflowServiceAccountName: string;
  public readonly gatewayApiKeySecretName: string;
  public readonly gatewayApiKeySecretKey: string;
  public readonly config: NamespaceConfig;
  public readonly resize: GrpcService;
  public readonly filter: GrpcService;
  public readonly detection: DetectionService;
  public readonly gateway: Gateway;
  public readonly triton?: TritonServer;
  public readonly minio?: MinioStore;

  constructor(scope: Construct, id: string, props: ImageFlowPlatformProps = {}) {
    super(scope, id);
    const minioProps = props.minio === true ? {} : props.minio || undefined;
    if (minioProps && props.s3?.endpoint) {
      throw new Error('ImageFlowPlatform: both minio and s3.endpoint are set; drop s3.endpoint to use the in-cluster MinIO, or drop minio to use your own S3.');
    }
    this.config = new NamespaceConfig(this, 'Namespace', props);
    this.namespace = this.config.namespace;
    const image = (repo: string) => ContainerImage.imageflow(repo, props.images);
    const serviceMonitor = props.serviceMonitors ?? false;
    const tls: GrpcTlsProps | undefined = props.grpcTls ? { secretName: props.grpcTls.secretName ?? DEFAULT_GRPC_TLS_SECRET_NAME } : undefined;
    const common = { config: this.config, tls, serviceMonitor };

    if (minioProps) this.minio = new MinioStore(this, 'Minio', { ...minioProps, config: this.config });
    if (props.triton) {
      if (props.detection?.tritonGrpcUrl) {
        throw new Error('ImageFlowPlatform: triton and detection.tritonGrpcUrl are both set; drop tritonGrpcUrl to use the in-cluster Triton.');
      }
      this.triton = new TritonServer(this, 'Triton', { ...props.triton, config: this.config, serviceMonitor });
    }

    this.resize = new ResizeService(this, 'Resize', { ...props.resize, ...common, image: image('resize') });
    this.filter = new FilterService(this, 'Filter', { ...props.filter, ...common, image: image('filter') });
    this.detection = new DetectionService(this, 'Detection', {
      ...props.detection,
      ...common,
      image: image('detection'),
      tritonGrpcUrl: this.triton?.grpcEndpoint ?? props.detection?.tritonGrpcUrl,
    });
    this.gateway = new Gateway(this, 'Gateway', {
      ...props.gateway,
      ...common,
      image: image('gateway'),
      backends: { resize: this.resize.endpoint, filter: this.filter.endpoint, detection: this.detection.endpoint },
    });
    this.gatewayUrl = this.gateway.url;
    this.gatewayApiKeySecretName = this.gateway.apiKeySecretName;
    this.gatewayApiKeySecretKey = this.gateway.apiKeySecretKey;

    const rbac = new WorkflowRbac(this, 'WorkflowRbac', {
      namespace: this.namespace,
      serviceAccountName: props.workflowServiceAccountName,
      readableSecrets: (props.workflowReadsApiKeySecret ?? true) ? [this.gatewayApiKeySecretName] : [],
    });
    this.workflowServiceAccountName = rbac.serviceAccountName;

    if (props.grpcTls?.certManagerIssuer) {
      new GrpcTlsCertificate(this, 'GrpcTls', {
        namespace: this.namespace,
        serviceNames: [this.resize.name, this.filter.name, this.detection.name, this.gateway.name],
        issuerName: props.grpcTls.certManagerIssuer.name,
        issuerKind: props.grpcTls.certManagerIssuer.kind,
        secretName: tls?.secretName,
      });
    }

    if (props.networkPolicies ?? true) this.addNetworkPolicies(props, props.networkPolicies === true ? {} : props.networkPolicies || {});
  }

  private addNetworkPolicies(props: ImageFlowPlatformProps, np: NetworkPolicyOptions): void {
    const grpcTarget = (s: GrpcService): PolicyTarget => ({ podLabels: s.workload.selectorLabels, port: s.grpcPort, metricsPort: s.metricsPort });
    const s3 = this.config.s3Endpoint;
    // Triton's address is host:port like the S3 endpoint; 8001 is Triton's default gRPC port.
    const tritonUrl = props.detection?.tritonGrpcUrl;
    const externalTriton = tritonUrl ? parseS3Endpoint(/:\d+$/.test(tritonUrl) ? tritonUrl : `${tritonUrl}:8001`) : undefined;
    new ImageFlowNetworkPolicies(this, 'NetworkPolicies', {
      namespace: this.namespace,
      gateway: { podLabels: this.gateway.workload.selectorLabels, port: this.gateway.httpPort },
      grpcServices: [grpcTarget(this.resize), grpcTarget(this.filter)],
      detection: grpcTarget(this.detection),
      storage: this.minio
        ? { port: MINIO_PORT, podLabels: this.minio.podLabels }
        : { port: s3.port, cidrs: np.s3EgressCidrs },
      triton: this.triton
        ? {
            podLabels: this.triton.workload.selectorLabels,
            port: 8001,
            httpPort: 8000,
            metricsPort: 8002,
            readsStorage: props.triton?.modelRepository.needsS3Credentials,
          }
        : undefined,
      externalTriton: externalTriton ? { port: externalTriton.port, cidrs: np.tritonEgressCidrs ?? ['0.0.0.0/0'] } : undefined,
      minio: this.minio ? { podLabels: this.minio.podLabels, port: MINIO_PORT, jobPodLabels: this.minio.jobPodLabels } : undefined,
      gatewayClients: np.gatewayClients,
      workflowNamespaces: np.workflowNamespaces,
      monitoringNamespace: np.monitoringNamespace,
      otelCollector: this.config.otel,
    });
  }
}
