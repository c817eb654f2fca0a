import * as kplus from 'cdk8s-plus-27';
import { Construct } from 'constructs';
import { ContainerImage } from './container-image.js';
import { DEFAULT_RUN_AS_USER, NAME_LABEL, PART_OF_LABEL, PART_OF_VALUE, COMPONENT_LABEL } from './hardened-workload.js';
import { NamespaceConfig } from './namespace-config.js';

export const MINIO_NAME = 'imageflow-minio';
export const MINIO_PORT = 9000;
export const DEFAULT_MINIO_IMAGE = 'quay.io/minio/minio:RELEASE.2024-10-13T13-34-11Z';
export const DEFAULT_MC_IMAGE = 'quay.io/minio/mc:RELEASE.2024-10-08T09-37-26Z';

export interface MinioStoreProps {
  readonly config: NamespaceConfig;
  /** @default 20 (GiB) */
  readonly storageGibibytes?: number;
  /** @default the cluster's default StorageClass */
  readonly storageClassName?: string;
  /** @default quay.io/minio/minio (pinned release) */
  readonly image?: ContainerImage;
  /** @default quay.io/minio/mc (pinned release) */
  readonly clientImage?: ContainerImage;
}

/**
 * A single-node MinIO for a self-contained cluster: StatefulSet with a PVC, a ClusterIP Service
 * the services reach at `imageflow-minio.<ns>.svc.cluster.local:9000`, and a Job that creates the
 * default bucket. Root credentials come from the same S3 Secret the services use.
 */
export class MinioStore extends Construct {
  public readonly name = MINIO_NAME;
  /** `host:port` for `MINIO_ENDPOINT`. */
  public readonly endpoint: string;
  /** Labels of the MinIO pods, for NetworkPolicies. */
  public readonly podLabels: Readonly<Record<string, string>>;
  /** Labels of the bucket Job's pods, for NetworkPolicies. */
  public readonly jobPodLabels: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: MinioStoreProps) {
    super(scope, id);
    const ns = props.config.namespace;
    const storage = props.storageGibibytes ?? 20;
    if (!Number.isInteger(storage) || storage < 1) throw new Error(`MinioStore: storageGibibytes is ${storage}; set a whole number of GiB >= 1.`);
    this.endpoint = `${MINIO_NAME}.${ns}.svc.cluster.local:${MINIO_PORT}`;
    this.podLabels = { [NAME_LABEL]: MINIO_NAME, [PART_OF_LABEL]: PART_OF_VALUE };
    this.jobPodLabels = { [NAME_LABEL]: `${MINIO_NAME}-create-bucket`, [PART_OF_LABEL]: PART_OF_VALUE };
    const labels = { ...this.podLabels, [COMPONENT_LABEL]: 'object-store' };
    const secretName = props.config.s3CredentialsSecretName;
    const credentialEnv = (userVar: string, passwordVar: string): kplus.k8s.EnvVar[] => [
      { name: userVar, valueFrom: { secretKeyRef: { name: secretName, key: 'accessKey' } } },
      { name: passwordVar, valueFrom: { secretKeyRef: { name: secretName, key: 'secretKey' } } },
    ];

    new kplus.k8s.KubeService(this, 'Service', {
      metadata: { name: MINIO_NAME, namespace: ns, labels },
      spec: { type: 'ClusterIP', selector: { ...this.podLabels }, ports: [{ name: 'api', port: MINIO_PORT, targetPort: kplus.k8s.IntOrString.fromNumber(MINIO_PORT) }] },
    });
    // The StatefulSet's governing Service gives each replica a stable DNS name.
    new kplus.k8s.KubeService(this, 'Headless', {
      metadata: { name: `${MINIO_NAME}-headless`, namespace: ns, labels },
      spec: { clusterIp: 'None', selector: { ...this.podLabels }, ports: [{ name: 'api', port: MINIO_PORT, targetPort: kplus.k8s.IntOrString.fromNumber(MINIO_PORT) }] },
    });

    const health = (path: string, periodSeconds: number, failureThreshold: number): kplus.k8s.Probe => ({
      httpGet: { path, port: kplus.k8s.IntOrString.fromNumber(MINIO_PORT) },
      periodSeconds,
      timeoutSeconds: 3,
      failureThreshold,
    });
    new kplus.k8s.KubeStatefulSet(this, 'StatefulSet', {
      metadata: { name: MINIO_NAME, namespace: ns, labels },
      spec: {
        serviceName: `${MINIO_NAME}-headless`,
        replicas: 1,
        selector: { matchLabels: { ...this.podLabels } },
        template: {
          metadata: { labels },
          spec: {
            ...hardenedPodSpec(),
            containers: [
              {
                name: 'minio',
                image: (props.image ?? ContainerImage.fromReference(DEFAULT_MINIO_IMAGE)).reference,
                imagePullPolicy: 'IfNotPresent',
                args: ['server', '/data', `--address=:${MINIO_PORT}`],
                ports: [{ name: 'api', containerPort: MINIO_PORT }],
                env: [...credentialEnv('MINIO_ROOT_USER', 'MINIO_ROOT_PASSWORD'), { name: 'HOME', value: '/tmp' }],
                resources: quantities({ cpu: '250m', memory: '512Mi' }, { cpu: '1', memory: '2Gi' }),
                readinessProbe: health('/minio/health/ready', 10, 3),
                livenessProbe: health('/minio/health/live', 20, 3),
                startupProbe: health('/minio/health/live', 5, 24),
                securityContext: hardenedContainerSecurityContext(),
                volumeMounts: [
                  { name: 'data', mountPath: '/data' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: kplus.k8s.Quantity.fromString('256Mi') } }],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels },
            spec: {
              accessModes: ['ReadWriteOnce'],
              ...(props.storageClassName ? { storageClassName: props.storageClassName } : {}),
              resources: { requests: { storage: kplus.k8s.Quantity.fromString(`${storage}Gi`) } },
            },
          },
        ],
      },
    });

    new kplus.k8s.KubeJob(this, 'CreateBucket', {
      metadata: { name: `${MINIO_NAME}-create-bucket`, namespace: ns, labels: { ...this.jobPodLabels, [COMPONENT_LABEL]: 'object-store' } },
      spec: {
        // MinIO may still be starting when the Job first runs; retry with back-off instead of failing.
        backoffLimit: 10,
        template: {
          metadata: { labels: { ...this.jobPodLabels, [COMPONENT_LABEL]: 'object-store' } },
          spec: {
            ...hardenedPodSpec(),
            restartPolicy: 'OnFailure',
            containers: [
              {
                name: 'create-bucket',
                image: (props.clientImage ?? ContainerImage.fromReference(DEFAULT_MC_IMAGE)).reference,
                imagePullPolicy: 'IfNotPresent',
                command: ['/bin/sh', '-ec'],
                args: [
                  'mc alias set store "http://$MINIO_HOST" "$MINIO_ACCESS_KEY" "$MINIO_SECRET_KEY" && mc mb --ignore-existing "store/$BUCKET"',
                ],
                env: [
                  { name: 'MINIO_HOST', value: `${MINIO_NAME}:${MINIO_PORT}` },
                  { name: 'BUCKET', value: props.config.bucket },
                  { name: 'MC_CONFIG_DIR', value: '/tmp/.mc' },
                  ...credentialEnv('MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY'),
                ],
                resources: quantities({ cpu: '50m', memory: '64Mi' }, { cpu: '200m', memory: '128Mi' }),
                securityContext: hardenedContainerSecurityContext(),
                volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
              },
            ],
            volumes: [{ name: 'tmp', emptyDir: { sizeLimit: kplus.k8s.Quantity.fromString('64Mi') } }],
          },
        },
      },
    });
  }
}

function quantities(requests: Record<string, string>, limits: Record<string, string>): kplus.k8s.ResourceRequirements {
  const q = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, kplus.k8s.Quantity.fromString(v)]));
  return { requests: q(requests), limits: q(limits) };
}

/** The same hardening {@link HardenedWorkload} applies, for objects written with the raw API. */
function hardenedPodSpec(): Pick<kplus.k8s.PodSpec, 'securityContext' | 'automountServiceAccountToken'> {
  return {
    automountServiceAccountToken: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: DEFAULT_RUN_AS_USER,
      runAsGroup: DEFAULT_RUN_AS_USER,
      fsGroup: DEFAULT_RUN_AS_USER,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

function hardenedContainerSecurityContext(): kplus.k8s.SecurityContext {
  return {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
