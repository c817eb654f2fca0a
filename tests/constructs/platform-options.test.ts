import { describe, expect, it } from 'vitest';
import { TritonModelRepository } from '../../constructs/index.js';
import { container, env, EVERYTHING_ON, synthPlatform } from './synth-helpers.js';

const s = synthPlatform(EVERYTHING_ON);
const NS = 'imageflow-prod';

describe('images', () => {
  it('use the registry and tag props', () => {
    for (const svc of ['resize', 'filter', 'detection', 'gateway']) {
      expect(container(s.get('Deployment', `imageflow-${svc}`)).image).toBe(`registry.example.com/team/${svc}:1.2.3`);
    }
  });
  it('default to ghcr.io/imageflow/<service>:<package version>', async () => {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(container(synthPlatform().get('Deployment', 'imageflow-gateway')).image).toBe(`ghcr.io/imageflow/gateway:${version}`);
  });
});

describe('autoscaling', () => {
  it('adds an autoscaling/v2 HPA on CPU and leaves the replica count to it', () => {
    const hpa = s.get('HorizontalPodAutoscaler', 'imageflow-resize');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    expect(hpa.spec).toEqual({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'imageflow-resize' },
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 60 } } }],
    });
    expect(s.get('Deployment', 'imageflow-resize').spec.replicas).toBeUndefined();
    expect(s.get('HorizontalPodAutoscaler', 'imageflow-gateway').spec.metrics[0].resource.target.averageUtilization).toBe(70);
  });
  it('keeps a PDB when the HPA minimum is above one', () => {
    expect(s.find('PodDisruptionBudget', 'imageflow-resize')).toBeDefined();
    expect(s.get('Deployment', 'imageflow-filter').spec.replicas).toBe(3);
  });
});

describe('ServiceMonitors', () => {
  it.each([
    ['imageflow-resize', 'metrics'],
    ['imageflow-gateway', 'http'],
    ['imageflow-triton', 'metrics'],
  ])('%s is scraped on port %s at /metrics', (name, port) => {
    const sm = s.get('ServiceMonitor', name);
    expect(sm.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(sm.spec.endpoints).toEqual([{ port, path: '/metrics', interval: '30s' }]);
    expect(sm.spec.selector.matchLabels['app.kubernetes.io/name']).toBe(name);
  });
});

describe('mutual TLS', () => {
  it('issues one cert-manager Certificate covering every service DNS name', () => {
    const cert = s.get('Certificate', 'imageflow-grpc-tls');
    expect(cert.spec.issuerRef).toEqual({ name: 'imageflow-ca', kind: 'ClusterIssuer', group: 'cert-manager.io' });
    expect(cert.spec.usages).toEqual(['server auth', 'client auth']);
    expect(cert.spec.dnsNames).toContain('imageflow-detection.imageflow-prod.svc.cluster.local');
    expect(cert.spec.dnsNames).toContain('imageflow-gateway.imageflow-prod.svc');
  });
  it('mounts the TLS Secret and sets the GRPC_TLS_* files in services and gateway', () => {
    for (const name of ['imageflow-resize', 'imageflow-gateway']) {
      const d = s.get('Deployment', name);
      expect(env(d)).toMatchObject({
        GRPC_TLS_CERT_FILE: '/etc/imageflow/tls/tls.crt',
        GRPC_TLS_KEY_FILE: '/etc/imageflow/tls/tls.key',
        GRPC_TLS_CA_FILE: '/etc/imageflow/tls/ca.crt',
      });
      expect(d.spec.template.spec.volumes).toContainEqual({ name: 'grpc-tls', secret: { secretName: 'imageflow-grpc-tls', defaultMode: 0o440 } });
    }
  });
  it('falls back to TCP probes, since the kubelet gRPC probe cannot do mTLS', () => {
    const c = container(s.get('Deployment', 'imageflow-filter'));
    expect(c.readinessProbe.grpc).toBeUndefined();
    expect(c.readinessProbe.tcpSocket).toEqual({ port: 9090 });
  });
});

describe('detection with in-cluster Triton', () => {
  it('points TRITON_GRPC_URL at the Triton Service and mounts the model registry', () => {
    const d = s.get('Deployment', 'imageflow-detection');
    expect(env(d)).toMatchObject({
      TRITON_GRPC_URL: 'imageflow-triton.imageflow-prod.svc.cluster.local:8001',
      MODEL_REGISTRY_FILE: '/etc/imageflow/models/registry.json',
    });
    expect(d.spec.template.spec.nodeSelector).toEqual({ 'nvidia.com/gpu.present': 'true' });
  });
  it('runs Triton with its own health endpoints, three ports and a GPU', () => {
    const t = s.get('Deployment', 'imageflow-triton');
    const c = container(t);
    expect(c.args).toContain('--model-repository=s3://imageflow-models/triton');
    expect(c.ports).toEqual([
      { containerPort: 8000, name: 'http' },
      { containerPort: 8001, name: 'grpc' },
      { containerPort: 8002, name: 'metrics' },
    ]);
    expect(c.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: 8000, scheme: 'HTTP' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 8000, scheme: 'HTTP' });
    expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(env(t).AWS_ACCESS_KEY_ID).toEqual({ secretKeyRef: { name: 'imageflow-s3-credentials', key: 'accessKey' } });
    expect(env(t).AWS_DEFAULT_REGION).toEqual({ configMapKeyRef: { name: 'imageflow-config', key: 'MINIO_REGION' } });
  });
  it('lets only detection reach Triton', () => {
    expect(s.get('NetworkPolicy', 'imageflow-triton-ingress').spec.ingress[0].from).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'imageflow-detection', 'app.kubernetes.io/part-of': 'imageflow' } } },
    ]);
    expect(s.get('NetworkPolicy', 'imageflow-detection-to-triton').spec.egress[0].ports).toEqual([{ port: 8001, protocol: 'TCP' }]);
  });
  it('mounts a PVC model repository read-only', () => {
    const p = synthPlatform({ triton: { modelRepository: TritonModelRepository.persistentVolumeClaim('models', 'triton') } });
    const t = p.get('Deployment', 'imageflow-triton');
    expect(container(t).args).toContain('--model-repository=/models/triton');
    expect(t.spec.template.spec.volumes).toContainEqual({ name: 'models', persistentVolumeClaim: { claimName: 'models', readOnly: true } });
    expect(p.find('NetworkPolicy', 'imageflow-triton-storage-egress')).toBeUndefined();
  });
  it('allows egress to an external Triton when only its URL is given', () => {
    const p = synthPlatform({ detection: { tritonGrpcUrl: 'triton.gpu.svc.cluster.local:8001' }, networkPolicies: { tritonEgressCidrs: ['10.8.0.0/16'] } });
    expect(p.get('NetworkPolicy', 'imageflow-detection-to-triton').spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '10.8.0.0/16' } }], ports: [{ port: 8001, protocol: 'TCP' }] },
    ]);
  });
  it('can run on CPU only', () => {
    const d = synthPlatform({ detection: { gpus: 0 } }).get('Deployment', 'imageflow-detection');
    expect(container(d).resources.limits).not.toHaveProperty('nvidia.com/gpu');
    expect(d.spec.template.spec.tolerations).toBeUndefined();
  });
});

describe('MinioStore', () => {
  it('runs MinIO as a StatefulSet with a PVC and uses it as the S3 endpoint', () => {
    const sts = s.get('StatefulSet', 'imageflow-minio');
    expect(sts.spec.volumeClaimTemplates[0].spec).toEqual({
      accessModes: ['ReadWriteOnce'],
      storageClassName: 'fast-ssd',
      resources: { requests: { storage: '50Gi' } },
    });
    expect(env(sts)).toMatchObject({
      MINIO_ROOT_USER: { secretKeyRef: { name: 'imageflow-s3-credentials', key: 'accessKey' } },
      MINIO_ROOT_PASSWORD: { secretKeyRef: { name: 'imageflow-s3-credentials', key: 'secretKey' } },
    });
    expect(s.get('ConfigMap', 'imageflow-config').data.MINIO_ENDPOINT).toBe(`imageflow-minio.${NS}.svc.cluster.local:9000`);
    expect(s.get('Service', 'imageflow-minio').spec.ports).toEqual([{ name: 'api', port: 9000, targetPort: 9000 }]);
  });
  it('creates the default bucket with a Job', () => {
    const job = s.get('Job', 'imageflow-minio-create-bucket');
    expect(env(job)).toMatchObject({ BUCKET: 'imageflow', MINIO_HOST: 'imageflow-minio:9000' });
    expect(container(job).args[0]).toContain('mc mb --ignore-existing "store/$BUCKET"');
    expect(job.spec.template.spec.securityContext.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });
  it('limits storage egress to the MinIO pods and MinIO ingress to imageflow callers', () => {
    expect(s.get('NetworkPolicy', 'imageflow-storage-egress').spec.egress[0].to).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'imageflow-minio', 'app.kubernetes.io/part-of': 'imageflow' } } },
    ]);
    const callers = s.get('NetworkPolicy', 'imageflow-minio-ingress').spec.ingress[0].from[0].podSelector.matchExpressions[0].values;
    expect(callers).toEqual(['imageflow-gateway', 'imageflow-resize', 'imageflow-filter', 'imageflow-detection', 'imageflow-triton', 'imageflow-minio-create-bucket']);
  });
});

describe('gateway clients and monitoring namespace', () => {
  it('adds the user-named peers next to the Argo workflow pods', () => {
    const from = s.get('NetworkPolicy', 'imageflow-gateway-ingress').spec.ingress[0].from;
    expect(from).toEqual([
      { podSelector: { matchExpressions: [{ key: 'workflows.argoproj.io/workflow', operator: 'Exists' }] } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'argo' } }, podSelector: { matchLabels: { app: 'argo-server' } } },
      { podSelector: { matchLabels: { role: 'batch' } } },
    ]);
    expect(s.get('NetworkPolicy', 'imageflow-gateway-ingress').spec.ingress[1].from).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } },
    ]);
  });
  it('admits workflow pods from other named namespaces', () => {
    const from = synthPlatform({ networkPolicies: { workflowNamespaces: ['argo'] } }).get('NetworkPolicy', 'imageflow-gateway-ingress').spec.ingress[0].from;
    expect(from[1]).toEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'argo' } },
      podSelector: { matchExpressions: [{ key: 'workflows.argoproj.io/workflow', operator: 'Exists' }] },
    });
  });
  it('passes the API key Secret name/key and allowed buckets to the gateway', () => {
    const gw = s.get('Deployment', 'imageflow-gateway');
    expect(env(gw).ALLOWED_BUCKETS).toBe('imageflow,uploads');
    expect(gw.spec.template.spec.volumes).toContainEqual({
      name: 'api-keys',
      secret: { secretName: 'gw-keys', defaultMode: 0o440, items: [{ key: 'api-keys.txt', path: 'keys' }] },
    });
    expect(s.get('Role', 'imageflow-workflow').rules.at(-1).resourceNames).toEqual(['gw-keys']);
    expect(s.platform.gatewayApiKeySecretKey).toBe('api-keys.txt');
  });
});
