// The `otel` prop: every service and the gateway get the OTEL_* variables services/shared/tracing.ts
// reads (through the shared settings ConfigMap), and a NetworkPolicy lets exactly them reach the
// collector. Off by default: nothing about tracing appears.
import { describe, expect, it } from 'vitest';
import { exporterKindFromEnv } from '../../services/shared/tracing.js';
import { formatViolations, validateManifests } from '../../scripts/validate-manifests.js';
import { synthPlatform, type Synthesized } from './synth-helpers.js';

const PROCESSES = ['imageflow-resize', 'imageflow-filter', 'imageflow-detection', 'imageflow-gateway'];

/** A container's effective environment: envFrom ConfigMaps first, then its own env (as the kubelet does). */
function effectiveEnv(s: Synthesized, deployment: string): Record<string, string | undefined> {
  const c = s.get('Deployment', deployment).spec.template.spec.containers[0];
  const fromMaps = (c.envFrom ?? []).filter((e: any) => e.configMapRef).map((e: any) => s.get('ConfigMap', e.configMapRef.name).data);
  return { ...Object.assign({}, ...fromMaps), ...Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value])) };
}

describe('otel', () => {
  const s = synthPlatform({ otel: { endpoint: 'http://otel-collector.observability:4318', samplingRatio: 0.25 } });

  it.each(PROCESSES)('%s exports spans over OTLP/HTTP to the collector', (name) => {
    const env = effectiveEnv(s, name);
    expect(env).toMatchObject({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
    });
    // What the process itself decides from that environment.
    expect(exporterKindFromEnv(env as NodeJS.ProcessEnv)).toBe('otlp');
  });

  it('lets exactly the services and the gateway reach the collector namespace on its port', () => {
    const policy = s.get('NetworkPolicy', 'imageflow-otel-egress');
    expect(policy.spec.policyTypes).toEqual(['Egress']);
    expect(policy.spec.podSelector.matchExpressions).toEqual([{ key: 'app.kubernetes.io/name', operator: 'In', values: ['imageflow-gateway', 'imageflow-resize', 'imageflow-filter', 'imageflow-detection'] }]);
    expect(policy.spec.egress).toEqual([
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'observability' } } }],
        ports: [{ port: 4318, protocol: 'TCP' }],
      },
    ]);
  });

  it('passes every manifest rule', async () => {
    expect(formatViolations(await validateManifests(s.objects))).toBe('');
  });

  it('takes the namespace, pod labels and port from props; a bare service name is in the platform namespace', () => {
    const p = synthPlatform({ otel: { endpoint: 'http://collector:4318', podLabels: { app: 'otel' }, port: 14318 } });
    expect(p.get('NetworkPolicy', 'imageflow-otel-egress').spec.egress).toEqual([
      {
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'image-processing' } }, podSelector: { matchLabels: { app: 'otel' } } }],
        ports: [{ port: 14318, protocol: 'TCP' }],
      },
    ]);
    expect(p.get('ConfigMap', 'imageflow-config').data.OTEL_TRACES_SAMPLER).toBeUndefined();
  });

  it('allows CIDRs for a collector outside the cluster, on the port the exporter will use', () => {
    const p = synthPlatform({ otel: { endpoint: 'https://otlp.example.com', cidrs: ['203.0.113.0/24'] } });
    expect(p.get('NetworkPolicy', 'imageflow-otel-egress').spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] }]);
    const q = synthPlatform({ otel: { endpoint: 'http://203.0.113.7:4318', cidrs: ['203.0.113.7/32'] } });
    expect(q.get('NetworkPolicy', 'imageflow-otel-egress').spec.egress[0].ports).toEqual([{ port: 4318, protocol: 'TCP' }]);
  });

  it.each([
    [{ endpoint: 'otel-collector:4318' }, 'must be http:// or https://'],
    [{ endpoint: 'https://otlp.example.com' }, 'set otel.namespace (in-cluster collector) or otel.cidrs'],
    [{ endpoint: 'http://c.observability:4318', samplingRatio: 2 }, 'otel.samplingRatio 2 must be between 0 and 1'],
    [{ endpoint: 'http://c.observability:4318', namespace: 'x', cidrs: ['10.0.0.0/8'] }, 'not both'],
  ])('refuses %j', (otel, message) => {
    expect(() => synthPlatform({ otel })).toThrow(message);
  });

  it('is off by default: no OTEL_* variable, no collector policy', () => {
    const p = synthPlatform();
    expect(p.find('NetworkPolicy', 'imageflow-otel-egress')).toBeUndefined();
    for (const name of PROCESSES) expect(Object.keys(effectiveEnv(p, name)).filter((k) => k.startsWith('OTEL_'))).toEqual([]);
  });
});
