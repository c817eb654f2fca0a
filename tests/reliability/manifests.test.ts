// The committed manifests (dist/, what `kubectl apply -f dist/` deploys) checked for the security
// and observability this suite relies on: hardened pods and containers, credentials only from
// Secrets, a scrapeable metrics port on every gRPC service, drain shorter than the grace
// period, and the memory limits the soak compares against.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { MEMORY_LIMIT_MIB } from './support/soak-runner.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const docs: any[] = readdirSync(DIST)
  .filter((f) => f.endsWith('.k8s.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(DIST + f, 'utf8')).map((d) => d.toJS()))
  .filter(Boolean);
const workloads = docs.filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.kind));
const configMapData: Record<string, string> = Object.assign({}, ...docs.filter((d) => d.kind === 'ConfigMap').map((d) => d.data ?? {}));
const envOf = (c: any): Record<string, string | undefined> => ({ ...configMapData, ...Object.fromEntries((c.env ?? []).map((e: any) => [e.name, e.value])) });
const mib = (q: string) => (q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : q.endsWith('Mi') ? Number(q.slice(0, -2)) : Number(q) / 1024 / 1024);

describe(`manifests in dist/ (${workloads.length} workloads)`, () => {
  it('has the four workloads', () => {
    expect(workloads.map((w) => w.metadata.name).sort()).toEqual(expect.arrayContaining(['imageflow-detection', 'imageflow-filter', 'imageflow-gateway', 'imageflow-resize']));
  });

  it.each(workloads.map((w) => [w.metadata.name, w]))('%s: hardened pod and containers', (_name, w: any) => {
    const pod = w.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.hostNetwork ?? false).toBe(false);
    expect(pod.hostPID ?? false).toBe(false);
    for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
      expect(c.securityContext, c.name).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true });
      expect(c.securityContext.privileged ?? false, c.name).toBe(false);
      expect(c.securityContext.capabilities.drop, c.name).toContain('ALL');
      expect(c.securityContext.capabilities.add ?? [], c.name).toEqual([]);
      expect(c.resources?.limits?.memory, c.name).toBeDefined();
      expect(c.resources?.limits?.cpu, c.name).toBeDefined();
      expect(c.image, c.name).not.toMatch(/:latest$|^[^:]+$/);
    }
  });

  it.each(workloads.map((w) => [w.metadata.name, w]))('%s: credentials only from Secrets', (_name, w: any) => {
    for (const c of w.spec.template.spec.containers) {
      for (const e of c.env ?? []) {
        if (/(SECRET|PASSWORD|TOKEN|ACCESS_KEY|API_KEYS)$/.test(e.name)) expect(e.value, `${c.name} ${e.name} must come from a Secret`).toBeUndefined();
      }
    }
    for (const [k, v] of Object.entries(configMapData)) {
      if (/(SECRET|PASSWORD|TOKEN|ACCESS_KEY|API_KEYS)$/.test(k)) expect(v, `ConfigMap ${k}`).toBeUndefined();
    }
  });

  it('commits no Secret holding data (credentials are created out of band)', () => {
    for (const s of docs.filter((d) => d.kind === 'Secret')) {
      expect([s.metadata.name, s.data ?? s.stringData ?? null]).toEqual([s.metadata.name, null]);
    }
  });

  it.each(['resize', 'filter', 'detection'])('%s: METRICS_PORT is a named container port, annotated for Prometheus and open to the monitoring namespace', (name) => {
    const w = workloads.find((x) => x.metadata.name === `imageflow-${name}`);
    const c = w.spec.template.spec.containers[0];
    const port = Number(envOf(c).METRICS_PORT ?? 9464);
    expect(c.ports).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'metrics', containerPort: port })]));
    expect(w.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' });
    const policy = docs.find((d) => d.kind === 'NetworkPolicy' && d.spec.podSelector?.matchLabels?.['app.kubernetes.io/name'] === `imageflow-${name}`);
    expect(policy?.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port))).toContain(port);
  });

  it.each(workloads.map((w) => [w.metadata.name, w]))('%s: the drain (SHUTDOWN_GRACE_MS) ends before Kubernetes kills the pod', (_name, w: any) => {
    const grace = (w.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const drain = Number(envOf(w.spec.template.spec.containers[0]).SHUTDOWN_GRACE_MS ?? 25_000);
    expect(drain).toBeLessThan(grace);
  });

  it.each(Object.entries(MEMORY_LIMIT_MIB))('%s: the memory limit the soak compares against is the Deployment\'s (%i MiB)', (name, limit) => {
    const w = workloads.find((x) => x.metadata.name === `imageflow-${name}`);
    expect(mib(w.spec.template.spec.containers[0].resources.limits.memory)).toBe(limit);
  });
});
