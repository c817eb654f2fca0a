// Synthesizes a platform to YAML files in a temp dir and parses them back: the tests assert on
// what `kubectl apply -f dist/` would see, not on in-memory cdk8s objects.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Chart } from 'cdk8s';
import { ImageFlowPlatform, ImageFlowPlatformProps, TritonModelRepository } from '../../constructs/index.js';
import { loadManifests, ManifestObject } from '../../scripts/validate-manifests.js';

export interface Synthesized {
  readonly platform: ImageFlowPlatform;
  readonly files: string[];
  readonly yaml: string;
  readonly objects: ManifestObject[];
  /** The object of that kind and name; throws when absent so a test fails with a clear message. */
  get(kind: string, name: string): any;
  find(kind: string, name: string): any | undefined;
  all(kind: string): any[];
}

export function synthPlatform(props: ImageFlowPlatformProps = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'imageflow-synth-'));
  try {
    const app = new App({ outdir, recordConstructMetadata: false });
    const chart = new Chart(app, 'imageflow-platform', { disableResourceNameHashes: true });
    const platform = new ImageFlowPlatform(chart, 'platform', props);
    app.synth();
    const files = readdirSync(outdir).filter((f) => f.endsWith('.yaml')).map((f) => join(outdir, f));
    const yaml = files.map((f) => readFileSync(f, 'utf8')).join('---\n');
    const objects = loadManifests(files).map((o) => ({ ...o, file: o.file.replace(outdir, '<dist>') }));
    const find = (kind: string, name: string) => objects.find((o) => o.doc.kind === kind && o.doc.metadata?.name === name)?.doc;
    return {
      platform,
      files,
      yaml,
      objects,
      find,
      get(kind, name) {
        const doc = find(kind, name);
        if (!doc) throw new Error(`no ${kind} named ${name} in the synthesized manifests`);
        return doc;
      },
      all: (kind) => objects.filter((o) => o.doc.kind === kind).map((o) => o.doc),
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Every option on: the configuration the "everything" snapshot and validation tests use. */
export const EVERYTHING_ON: ImageFlowPlatformProps = {
  namespace: 'imageflow-prod',
  images: { registry: 'registry.example.com/team', tag: '1.2.3' },
  minio: { storageGibibytes: 50, storageClassName: 'fast-ssd' },
  triton: { modelRepository: TritonModelRepository.s3('s3://imageflow-models/triton'), gpus: 1 },
  serviceMonitors: true,
  grpcTls: { certManagerIssuer: { name: 'imageflow-ca', kind: 'ClusterIssuer' } },
  networkPolicies: { gatewayClients: [{ namespace: 'argo', podLabels: { app: 'argo-server' } }, { podLabels: { role: 'batch' } }], monitoringNamespace: 'observability' },
  resize: { autoscaling: { minReplicas: 2, maxReplicas: 10, targetCpuUtilizationPercent: 60 } },
  filter: { replicas: 3 },
  detection: { modelRegistry: { configMapName: 'detection-models' }, nodeSelector: { 'nvidia.com/gpu.present': 'true' } },
  gateway: { autoscaling: { minReplicas: 2, maxReplicas: 6 }, allowedBuckets: ['imageflow', 'uploads'], apiKeys: { secretName: 'gw-keys', key: 'api-keys.txt' } },
  logLevel: 'debug',
};

/** The single container of a Deployment or StatefulSet. */
export function container(workload: any): any {
  return workload.spec.template.spec.containers[0];
}

export function env(workload: any): Record<string, any> {
  return Object.fromEntries((container(workload).env ?? []).map((e: any) => [e.name, e.value ?? e.valueFrom]));
}
