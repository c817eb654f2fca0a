import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { formatViolations, validateManifestFiles, validateManifests } from '../../scripts/validate-manifests.js';
import { EVERYTHING_ON, synthPlatform } from './synth-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'imageflow-validate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function writeManifest(name: string, yaml: string): string {
  const file = join(tmp, name);
  writeFileSync(file, yaml);
  return file;
}

describe('synthesized manifests pass every rule (parsed from the YAML files)', () => {
  it('committed dist/', async () => {
    const files = readdirSync('dist').filter((f) => f.endsWith('.k8s.yaml')).map((f) => join('dist', f));
    expect(files).toContain('dist/imageflow-platform.k8s.yaml');
    const violations = await validateManifestFiles(files);
    expect(formatViolations(violations)).toBe('');
  });

  it.each([
    ['default', {}],
    ['everything on', EVERYTHING_ON],
  ])('%s platform', async (_, props) => {
    const s = synthPlatform(props);
    expect(formatViolations(await validateManifests(s.objects))).toBe('');
  });
});

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: ns }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: web:1
          ports: [{ name: http, containerPort: 8080 }]
          readinessProbe: { httpGet: { path: /ready, port: http } }
          livenessProbe: { grpc: { port: 8080 } }
`;

describe('each rule catches what it is for', () => {
  async function violationsOf(yaml: string) {
    return validateManifestFiles([writeManifest(`case-${Math.random().toString(36).slice(2)}.yaml`, yaml)]);
  }

  it('accepts a correct Deployment (named and numbered probe ports)', async () => {
    expect(await violationsOf(DEPLOYMENT)).toEqual([]);
  });

  it('schema: wrong types, unknown kinds', async () => {
    const v = await violationsOf(`${DEPLOYMENT.replace('spec:\n  selector', 'spec:\n  replicas: "two"\n  selector')}---
apiVersion: example.com/v1
kind: Gadget
metadata: { name: g }
`);
    expect(v.map((x) => x.rule)).toEqual(['schema', 'schema']);
    expect(v[0]!.message).toContain('spec/replicas must be integer');
    expect(v[1]!.message).toContain('no schema is known for example.com/v1 Gadget');
  });

  it('resource quantities that rendered as null fail the schema', async () => {
    const v = await violationsOf(DEPLOYMENT.replace('image: web:1', 'image: web:1\n          resources: { limits: { nvidia.com/gpu: null } }'));
    expect(v.map((x) => x.rule)).toEqual(['schema']);
  });

  it('dns-1123 names', async () => {
    const v = await violationsOf(DEPLOYMENT.replace('name: web, namespace: ns', 'name: Web_App, namespace: ns'));
    expect(v).toEqual([expect.objectContaining({ rule: 'dns-1123', resource: 'Deployment/ns/Web_App' })]);
  });

  it('selector must match the pod template', async () => {
    const v = await violationsOf(DEPLOYMENT.replace('labels: { app: web }', 'labels: { app: other }'));
    expect(v.map((x) => x.rule)).toEqual(['selector']);
  });

  it('probe ports must be declared', async () => {
    const v = await violationsOf(DEPLOYMENT.replace('grpc: { port: 8080 }', 'grpc: { port: 9090 }'));
    expect(v).toEqual([expect.objectContaining({ rule: 'probe-port', message: 'container "web" livenessProbe targets port 9090, which it does not declare in ports.' })]);
  });

  it('every Service selects a workload and a declared port', async () => {
    const svc = (selector: string, targetPort: string) => `---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: ns }
spec: { selector: ${selector}, ports: [{ name: http, port: 80, targetPort: ${targetPort} }] }
`;
    expect(await violationsOf(DEPLOYMENT + svc('{ app: web }', 'http'))).toEqual([]);
    expect((await violationsOf(DEPLOYMENT + svc('{ app: api }', 'http'))).map((x) => x.rule)).toEqual(['service-selects-workload']);
    expect((await violationsOf(DEPLOYMENT + svc('{ app: web }', '9999'))).map((x) => x.rule)).toEqual(['service-port']);
  });

  it('PDBs and HPAs must point at something', async () => {
    const v = await violationsOf(`${DEPLOYMENT}---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: { name: web, namespace: ns }
spec: { maxUnavailable: 1, selector: { matchLabels: { app: api } } }
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: { name: web, namespace: ns }
spec: { scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: api }, maxReplicas: 3 }
`);
    expect(v.map((x) => x.rule)).toEqual(['pdb-selects-workload', 'hpa-target']);
  });

  it('no literal credentials', async () => {
    const v = await violationsOf(`${DEPLOYMENT.replace('image: web:1', 'image: web:1\n          env: [{ name: MINIO_SECRET_KEY, value: hunter2 }, { name: GATEWAY_API_KEYS_FILE, value: /etc/keys }]')}---
apiVersion: v1
kind: Secret
metadata: { name: creds, namespace: ns }
stringData: { accessKey: AKIAABCDEFGHIJKLMNOP }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: cfg, namespace: ns }
data: { DB_PASSWORD: x, TOKEN_FILE: /run/token }
`);
    expect(v.map((x) => `${x.resource} ${x.message}`)).toEqual([
      'Deployment/ns/web container "web" env MINIO_SECRET_KEY has a literal value; use valueFrom.secretKeyRef.',
      'Secret/ns/creds a Secret with data is committed to the manifests; create it out of band and reference it by name.',
      'Secret/ns/creds contains something that looks like a key or token (AKIA[0-9A-Z]{16}); remove it.',
      'ConfigMap/ns/cfg ConfigMap key "DB_PASSWORD" looks like a credential; move it to a Secret.',
    ]);
  });
});

describe('cdk8s synth runs the validation plugin', () => {
  it('cdk8s.yaml runs the app with tsx, imports nothing and registers the local plugin', () => {
    const config = parse(readFileSync('cdk8s.yaml', 'utf8'));
    expect(config.app).toBe('npx tsx main.ts');
    expect(config.imports).toBeUndefined();
    expect(config.validations).toEqual([{ package: './scripts/cdk8s-validation-plugin.cjs', class: 'ImageflowManifestValidation', version: '0.1.0' }]);
  });

  it('fails synth (exit 2) with the violations when a manifest is invalid', async () => {
    const bad = writeManifest('bad.k8s.yaml', DEPLOYMENT.replace('grpc: { port: 8080 }', 'grpc: { port: 9090 }'));
    const out = join(tmp, 'out');
    const run = promisify(execFile)('npx', ['cdk8s', 'synth', '--app', `mkdir -p "$CDK8S_OUTDIR" && cp ${bad} "$CDK8S_OUTDIR/"`, '--output', out], {
      env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' },
    });
    const err = (await run.then(() => undefined, (e: unknown) => e)) as { code: number; stdout: string } | undefined;
    expect(err?.code).toBe(2);
    expect(err?.stdout).toContain('probe-port');
    expect(err?.stdout).toContain('livenessProbe targets port 9090');
  });
});
