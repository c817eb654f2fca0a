import { App, Chart, Size } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { describe, expect, it } from 'vitest';
import {
  ContainerImage,
  GrpcService,
  GrpcTlsCertificate,
  HardenedWorkload,
  ImageFlowNetworkPolicies,
  MinioStore,
  NamespaceConfig,
  TritonModelRepository,
  WorkflowRbac,
  WorkloadProbe,
} from '../../constructs/index.js';
import { synthPlatform } from './synth-helpers.js';

const chart = () => new Chart(new App(), 'test');
const config = (c = chart()) => new NamespaceConfig(c, 'ns');
const image = ContainerImage.fromReference('example.com/x:1');

describe('errors say what to change', () => {
  it('replicas < 1', () => {
    expect(() => synthPlatform({ resize: { replicas: 0 } })).toThrow('imageflow-resize: replicas is 0: set it to an integer >= 1.');
    expect(() => synthPlatform({ gateway: { replicas: 1.5 } })).toThrow('imageflow-gateway: replicas is 1.5: set it to an integer >= 1.');
  });

  it('bad names', () => {
    expect(() => synthPlatform({ namespace: 'Image_Processing' })).toThrow(
      'NamespaceConfig: namespace "Image_Processing" is not a valid DNS-1123 label: use at most 63 lowercase letters, digits and \'-\', starting and ending with a letter or digit (e.g. "image-processing").',
    );
    expect(() => synthPlatform({ workflowServiceAccountName: 'argo.workflows' })).toThrow(/WorkflowRbac: serviceAccountName "argo.workflows" is not a valid DNS-1123 label/);
    expect(() => synthPlatform({ s3: { credentialsSecretName: 'S3 creds' } })).toThrow(/s3.credentialsSecretName "S3 creds" is not a valid Secret name/);
    expect(() => synthPlatform({ s3: { bucket: 'My_Bucket' } })).toThrow(/s3.bucket "My_Bucket" is not a valid S3 bucket name/);
    expect(() => new GrpcService(chart(), 'x', { name: 'imageflow-' + 'x'.repeat(60), config: config(), image })).toThrow(/is not a valid DNS-1123 label/);
  });

  it('requests above limits', () => {
    expect(() => synthPlatform({ filter: { resources: { cpuLimitMillis: 100 } } })).toThrow(
      'imageflow-filter: cpu request (200) exceeds its limit (100); raise the limit or lower the request.',
    );
    expect(() => synthPlatform({ detection: { resources: { memoryRequestMebibytes: 0 } } })).toThrow(/memory request\/limit 0 must be a positive integer/);
  });

  it('autoscaling bounds', () => {
    expect(() => synthPlatform({ resize: { autoscaling: { minReplicas: 4, maxReplicas: 2 } } })).toThrow(
      'imageflow-resize: autoscaling.maxReplicas is 2: set it to an integer >= 4.',
    );
    expect(() => synthPlatform({ gateway: { autoscaling: { minReplicas: 1, maxReplicas: 3, targetCpuUtilizationPercent: 150 } } })).toThrow(
      'imageflow-gateway: autoscaling.targetCpuUtilizationPercent is 150: set it to an integer between 1 and 100.',
    );
  });

  it('conflicting storage and Triton options', () => {
    expect(() => synthPlatform({ minio: true, s3: { endpoint: 's3.example.com' } })).toThrow(/both minio and s3.endpoint are set; drop s3.endpoint/);
    expect(() =>
      synthPlatform({ triton: { modelRepository: TritonModelRepository.uri('gs://m') }, detection: { tritonGrpcUrl: 'x:8001' } }),
    ).toThrow(/triton and detection.tritonGrpcUrl are both set/);
  });

  it('bad ports and probes', () => {
    expect(() => synthPlatform({ gateway: { httpPort: 70000 } })).toThrow('imageflow-gateway: httpPort is 70000: set it to an integer between 1 and 65535.');
    expect(() => synthPlatform({ resize: { grpcPort: 9464 } })).toThrow('imageflow-resize: port 9464 is declared twice; give each port its own number.');
    const c = chart();
    expect(
      () =>
        new HardenedWorkload(c, 'w', {
          name: 'w',
          namespace: 'ns',
          component: 'x',
          image,
          ports: [{ name: 'http', port: 8080 }],
          replicas: 1,
          resources: { cpu: { request: kplus.Cpu.millis(1), limit: kplus.Cpu.millis(2) }, memory: { request: Size.mebibytes(1), limit: Size.mebibytes(2) } },
          readiness: WorkloadProbe.httpGet('/ready', 8081),
          liveness: WorkloadProbe.httpGet('/health', 8080),
          startup: WorkloadProbe.httpGet('/health', 8080),
        }),
    ).toThrow('w: the readiness probe targets port 8081, which the container does not declare; use one of 8080.');
    expect(() => WorkloadProbe.httpGet('health', 8080)).toThrow('HTTP probe path "health" must start with "/".');
  });

  it('image references without a tag', () => {
    expect(() => ContainerImage.fromReference('ghcr.io/imageflow/resize')).toThrow(
      'Container image "ghcr.io/imageflow/resize" has no tag or digest: pin it, e.g. "ghcr.io/imageflow/resize:1.2.3" or "ghcr.io/imageflow/resize@sha256:…".',
    );
    expect(ContainerImage.fromReference('localhost:5000/resize@sha256:abc').reference).toBe('localhost:5000/resize@sha256:abc');
    expect(ContainerImage.imageflow('resize', { registry: 'localhost:5000/', tag: 'dev' }).reference).toBe('localhost:5000/resize:dev');
  });

  it('the remaining optional constructs', () => {
    expect(() => new MinioStore(chart(), 'm', { config: config(), storageGibibytes: 0 })).toThrow('MinioStore: storageGibibytes is 0; set a whole number of GiB >= 1.');
    expect(() => new GrpcTlsCertificate(chart(), 'c', { namespace: 'ns', serviceNames: [], issuerName: 'ca' })).toThrow(/serviceNames is empty/);
    expect(() => TritonModelRepository.s3('minio/models')).toThrow('Triton model repository "minio/models" must start with "s3://".');
    expect(() => synthPlatform({ detection: { gpus: -1 } })).toThrow('imageflow-detection: gpus is -1: set it to an integer >= 0.');
    expect(() => synthPlatform({ gateway: { allowedBuckets: [] } })).toThrow(/allowedBuckets is empty; name at least one bucket/);
    expect(() => synthPlatform({ networkPolicies: { gatewayClients: [{}] } })).toThrow(/a gatewayClients entry needs a namespace, podLabels or both/);
    expect(() => new WorkflowRbac(chart(), 'r', { namespace: 'ns', serviceAccountName: '' })).toThrow(/is not a valid DNS-1123 label/);
    expect(ImageFlowNetworkPolicies).toBeDefined();
  });
});
