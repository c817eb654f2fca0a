import { describe, expect, it } from 'vitest';
import { container, env, synthPlatform } from './synth-helpers.js';

const NS = 'image-processing';
const s = synthPlatform();

describe('default platform: names and wiring the services, DSL and CLI rely on', () => {
  it('exposes what the pipeline compiler needs', () => {
    expect(s.platform.namespace).toBe(NS);
    expect(s.platform.gatewayUrl).toBe('http://imageflow-gateway.image-processing.svc.cluster.local:8080');
    expect(s.platform.workflowServiceAccountName).toBe('imageflow-workflow');
    expect(s.platform.gatewayApiKeySecretName).toBe('imageflow-gateway-api-keys');
    expect(s.platform.gatewayApiKeySecretKey).toBe('keys');
  });

  it('creates the namespace with Pod Security Admission at restricted', () => {
    const ns = s.get('Namespace', NS);
    expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    expect(ns.metadata.labels['pod-security.kubernetes.io/warn']).toBe('restricted');
  });

  it('puts the shared settings in a ConfigMap and no credential in it', () => {
    const cm = s.get('ConfigMap', 'imageflow-config');
    expect(cm.data).toEqual({
      MINIO_ENDPOINT: 'imageflow-minio.image-processing.svc.cluster.local:9000',
      MINIO_USE_SSL: 'false',
      MINIO_REGION: 'us-east-1',
      DEFAULT_BUCKET: 'imageflow',
      LIMIT_INPUT_PIXELS: '50000000',
      GRPC_MAX_MESSAGE_BYTES: '67108864',
      LOG_LEVEL: 'info',
    });
  });

  it.each(['imageflow-resize', 'imageflow-filter', 'imageflow-detection', 'imageflow-gateway'])('names Deployment and Service %s', (name) => {
    expect(s.get('Deployment', name).metadata.namespace).toBe(NS);
    expect(s.get('Service', name).spec.type).toBe('ClusterIP');
  });

  it('takes S3 credentials from the Secret, never as literals', () => {
    for (const name of ['imageflow-resize', 'imageflow-filter', 'imageflow-detection', 'imageflow-gateway']) {
      const e = env(s.get('Deployment', name));
      expect(e.MINIO_ACCESS_KEY).toEqual({ secretKeyRef: { name: 'imageflow-s3-credentials', key: 'accessKey' } });
      expect(e.MINIO_SECRET_KEY).toEqual({ secretKeyRef: { name: 'imageflow-s3-credentials', key: 'secretKey' } });
      expect(container(s.get('Deployment', name)).envFrom).toEqual([{ configMapRef: { name: 'imageflow-config' } }]);
    }
  });

  it('does not emit optional objects by default', () => {
    for (const kind of ['HorizontalPodAutoscaler', 'ServiceMonitor', 'Certificate', 'StatefulSet', 'Job']) expect(s.all(kind)).toEqual([]);
    expect(s.find('Deployment', 'imageflow-triton')).toBeUndefined();
  });
});

describe('gRPC services', () => {
  it.each(['imageflow-resize', 'imageflow-filter', 'imageflow-detection'])('%s has native grpc probes (added by JSON patch)', (name) => {
    const c = container(s.get('Deployment', name));
    expect(c.readinessProbe).toEqual({ grpc: { port: 9090 }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 });
    expect(c.livenessProbe).toEqual({ grpc: { port: 9090 }, periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 });
    expect(c.startupProbe.grpc).toEqual({ port: 9090 });
    expect(c.startupProbe.tcpSocket).toBeUndefined();
    expect(c.ports).toEqual([
      { containerPort: 9090, name: 'grpc' },
      { containerPort: 9464, name: 'metrics' },
    ]);
    expect(env(s.get('Deployment', name))).toMatchObject({ GRPC_PORT: '9090', METRICS_PORT: '9464' });
  });

  it.each(['imageflow-resize', 'imageflow-filter'])('%s defaults to 2 replicas, 200m/1 CPU, 512Mi/1Gi', (name) => {
    const d = s.get('Deployment', name);
    expect(d.spec.replicas).toBe(2);
    expect(container(d).resources).toEqual({ requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '1000m', memory: '1024Mi' } });
  });

  it('detection defaults to 1 replica, 500m/2 CPU, 1Gi/4Gi and one GPU in requests and limits', () => {
    const d = s.get('Deployment', 'imageflow-detection');
    expect(d.spec.replicas).toBe(1);
    expect(container(d).resources).toEqual({
      requests: { cpu: '500m', memory: '1024Mi', 'nvidia.com/gpu': 1 },
      limits: { cpu: '2000m', memory: '4096Mi', 'nvidia.com/gpu': 1 },
    });
    expect(d.spec.template.spec.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(env(d).TRITON_GRPC_URL).toBe('');
    // A surge pod would wait forever for the GPU the old pod holds.
    expect(d.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } });
    expect(s.get('Deployment', 'imageflow-resize').spec.strategy.rollingUpdate).toEqual({ maxSurge: '25%', maxUnavailable: '25%' });
    // Model loading: 36 × 5 s = 3 minutes before the kubelet gives up.
    expect(container(d).startupProbe).toMatchObject({ periodSeconds: 5, failureThreshold: 36 });
  });

  it('exposes grpc and metrics on the Service and selects the pods by stable labels', () => {
    const svc = s.get('Service', 'imageflow-resize');
    expect(svc.spec.selector).toEqual({ 'app.kubernetes.io/name': 'imageflow-resize', 'app.kubernetes.io/part-of': 'imageflow' });
    expect(svc.spec.ports).toEqual([
      { name: 'grpc', port: 9090, targetPort: 9090, protocol: 'TCP' },
      { name: 'metrics', port: 9464, targetPort: 9464, protocol: 'TCP' },
    ]);
    const labels = s.get('Deployment', 'imageflow-resize').spec.template.metadata.labels;
    expect(labels).not.toHaveProperty('cdk8s.io/metadata.addr');
  });

  it('annotates pods for Prometheus scraping', () => {
    expect(s.get('Deployment', 'imageflow-filter').spec.template.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '9464',
      'prometheus.io/path': '/metrics',
    });
    expect(s.get('Deployment', 'imageflow-gateway').spec.template.metadata.annotations['prometheus.io/port']).toBe('8080');
  });
});

describe('hardening (every Deployment)', () => {
  it.each(['imageflow-resize', 'imageflow-filter', 'imageflow-detection', 'imageflow-gateway'])('%s', (name) => {
    const pod = s.get('Deployment', name).spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(container(s.get('Deployment', name)).securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 10001,
      runAsNonRoot: true,
      runAsUser: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container(s.get('Deployment', name)).volumeMounts).toContainEqual({ mountPath: '/tmp', name: 'tmp' });
    expect(pod.volumes).toContainEqual({ name: 'tmp', emptyDir: { sizeLimit: '1024Mi' } });
    expect(pod.topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'imageflow' } },
      },
    ]);
  });
});

describe('PodDisruptionBudgets', () => {
  it('exist for workloads with more than one replica', () => {
    for (const name of ['imageflow-resize', 'imageflow-filter', 'imageflow-gateway']) {
      expect(s.get('PodDisruptionBudget', name).spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'imageflow' } },
      });
    }
  });
  it('do not exist for the single-replica detection service', () => {
    expect(s.find('PodDisruptionBudget', 'imageflow-detection')).toBeUndefined();
  });
});

describe('gateway', () => {
  const d = s.get('Deployment', 'imageflow-gateway');
  it('defaults to 2 replicas, 100m/500m CPU, 256Mi/512Mi', () => {
    expect(d.spec.replicas).toBe(2);
    expect(container(d).resources).toEqual({ requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } });
  });
  it('probes /ready and /health over HTTP on 8080', () => {
    expect(container(d).readinessProbe).toMatchObject({ httpGet: { path: '/ready', port: 8080, scheme: 'HTTP' } });
    expect(container(d).livenessProbe).toMatchObject({ httpGet: { path: '/health', port: 8080, scheme: 'HTTP' } });
    expect(container(d).startupProbe).toMatchObject({ httpGet: { path: '/health', port: 8080 } });
  });
  it('dials the three services by their cluster DNS names', () => {
    expect(env(d)).toMatchObject({
      HTTP_PORT: '8080',
      RESIZE_GRPC_ENDPOINT: 'imageflow-resize.image-processing.svc.cluster.local:9090',
      FILTER_GRPC_ENDPOINT: 'imageflow-filter.image-processing.svc.cluster.local:9090',
      AI_DETECTION_GRPC_ENDPOINT: 'imageflow-detection.image-processing.svc.cluster.local:9090',
      ALLOWED_BUCKETS: 'imageflow',
      GATEWAY_API_KEYS_FILE: '/etc/imageflow/gateway/keys',
    });
  });
  it('mounts the API keys Secret read-only as a file', () => {
    expect(container(d).volumeMounts).toContainEqual({ mountPath: '/etc/imageflow/gateway', name: 'api-keys', readOnly: true });
    expect(d.spec.template.spec.volumes).toContainEqual({
      name: 'api-keys',
      secret: { secretName: 'imageflow-gateway-api-keys', defaultMode: 0o440, items: [{ key: 'keys', path: 'keys' }] },
    });
  });
});

describe('Argo RBAC', () => {
  it('grants exactly what the agent and executor need, and get on the API key Secret only', () => {
    const role = s.get('Role', 'imageflow-workflow');
    expect(role.rules).toEqual([
      { apiGroups: ['argoproj.io'], resources: ['workflowtasksets'], verbs: ['list', 'watch'] },
      { apiGroups: ['argoproj.io'], resources: ['workflowtasksets/status'], verbs: ['patch'] },
      { apiGroups: ['argoproj.io'], resources: ['workflowtaskresults'], verbs: ['create', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['imageflow-gateway-api-keys'], verbs: ['get'] },
    ]);
  });
  it('binds the Role to the workflow ServiceAccount', () => {
    expect(s.get('ServiceAccount', 'imageflow-workflow').metadata.namespace).toBe(NS);
    const rb = s.get('RoleBinding', 'imageflow-workflow');
    expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'imageflow-workflow' });
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'imageflow-workflow', namespace: NS }]);
  });
  it('creates the long-lived token Secret without data', () => {
    const token = s.get('Secret', 'imageflow-workflow-token');
    expect(token.type).toBe('kubernetes.io/service-account-token');
    expect(token.metadata.annotations).toEqual({ 'kubernetes.io/service-account.name': 'imageflow-workflow' });
    expect(token.data).toBeUndefined();
    expect(token.stringData).toBeUndefined();
  });
  it('drops Secret access when workflows do not read the API key', () => {
    const rules = synthPlatform({ workflowReadsApiKeySecret: false }).get('Role', 'imageflow-workflow').rules;
    expect(rules.some((r: any) => r.resources.includes('secrets'))).toBe(false);
  });
});

describe('NetworkPolicies', () => {
  const gatewayPods = { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'imageflow-gateway', 'app.kubernetes.io/part-of': 'imageflow' } } };

  it('deny everything for imageflow pods unless allowed', () => {
    expect(s.get('NetworkPolicy', 'imageflow-default-deny').spec).toEqual({
      podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'imageflow' } },
      policyTypes: ['Ingress', 'Egress'],
    });
  });

  it.each(['resize', 'filter', 'detection'])('let only the gateway reach %s on 9090, and monitoring reach 9464', (svc) => {
    expect(s.get('NetworkPolicy', `imageflow-${svc}-ingress`).spec.ingress).toEqual([
      { from: [gatewayPods], ports: [{ port: 9090, protocol: 'TCP' }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 9464, protocol: 'TCP' }] },
    ]);
  });

  it('let Argo workflow pods (label key exists) reach the gateway', () => {
    const rules = s.get('NetworkPolicy', 'imageflow-gateway-ingress').spec.ingress;
    expect(rules[0]).toEqual({
      from: [{ podSelector: { matchExpressions: [{ key: 'workflows.argoproj.io/workflow', operator: 'Exists' }] } }],
      ports: [{ port: 8080, protocol: 'TCP' }],
    });
  });

  it('let the services reach S3 and DNS only', () => {
    const storage = s.get('NetworkPolicy', 'imageflow-storage-egress').spec;
    expect(storage.podSelector.matchExpressions[0].values).toEqual(['imageflow-gateway', 'imageflow-resize', 'imageflow-filter', 'imageflow-detection']);
    expect(storage.egress).toEqual([{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 9000, protocol: 'TCP' }] }]);
    expect(s.get('NetworkPolicy', 'imageflow-allow-dns').spec.egress[0].ports).toEqual([
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ]);
  });

  it('derive the S3 port from an https endpoint', () => {
    const p = synthPlatform({ s3: { endpoint: 'https://s3.eu-west-1.amazonaws.com' }, networkPolicies: { s3EgressCidrs: ['52.0.0.0/8'] } });
    expect(p.get('ConfigMap', 'imageflow-config').data).toMatchObject({ MINIO_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com', MINIO_USE_SSL: 'true' });
    expect(p.get('NetworkPolicy', 'imageflow-storage-egress').spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '52.0.0.0/8' } }], ports: [{ port: 443, protocol: 'TCP' }] }]);
  });

  it('can be turned off', () => {
    expect(synthPlatform({ networkPolicies: false }).all('NetworkPolicy')).toEqual([]);
  });
});
