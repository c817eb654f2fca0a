// Validates synthesized manifests as Kubernetes will see them: parsed back from the YAML files
// (not from in-memory cdk8s objects), checked against the real API schemas (kubernetes-models),
// plus the cross-object rules a schema cannot express. Used by the cdk8s `validations:` plugin
// (scripts/cdk8s-validation-plugin.cjs), by tests/constructs, and from the command line:
//   npx tsx scripts/validate-manifests.ts dist/*.k8s.yaml
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Ajv } from 'ajv';
import * as km from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';

/** One object of a manifest file. */
export interface ManifestObject {
  readonly file: string;
  readonly doc: any;
}

/** A broken rule, phrased so the reader knows what to change. */
export interface Violation {
  readonly rule: string;
  /** `Kind/namespace/name`. */
  readonly resource: string;
  readonly file: string;
  readonly message: string;
}

type Validator = (doc: unknown) => void;

/** Parses every YAML document of every file; empty documents are skipped. */
export function loadManifests(files: readonly string[]): ManifestObject[] {
  const out: ManifestObject[] = [];
  for (const file of files) {
    for (const d of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (d.errors.length > 0) throw new Error(`${file}: invalid YAML: ${d.errors[0]?.message}`);
      const doc = d.toJS();
      if (doc) out.push({ file, doc });
    }
  }
  return out;
}

/** Every rule over every object; an empty array means the manifests are valid. */
export async function validateManifests(objects: readonly ManifestObject[]): Promise<Violation[]> {
  const schemas = await schemaRegistry();
  const violations: Violation[] = [];
  const add = (o: ManifestObject, rule: string, message: string) => violations.push({ rule, resource: resourceId(o.doc), file: o.file, message });
  for (const o of objects) {
    checkSchema(o, schemas, add);
    checkNames(o, add);
    checkWorkload(o, add);
    checkCredentials(o, add);
  }
  checkCrossReferences(objects, add);
  return violations;
}

export async function validateManifestFiles(files: readonly string[]): Promise<Violation[]> {
  return validateManifests(loadManifests(files));
}

export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.file}: ${v.resource}: [${v.rule}] ${v.message}`).join('\n');
}

// ── schemas ─────────────────────────────────────────────────────────────────────────────────

let registry: Promise<Map<string, Validator>> | undefined;

/** `apiVersion kind` → validate(); kubernetes-models for the core API and Argo, ajv for the rest. */
function schemaRegistry(): Promise<Map<string, Validator>> {
  registry ??= (async () => {
    const map = new Map<string, Validator>();
    const register = (cls: any) => map.set(`${cls.apiVersion} ${cls.kind}`, (doc) => new cls(doc).validate());
    // Named groups nest group → version → class; the core group (`v1`) is version → class.
    const walk = (ns: object, depth: number): void => {
      for (const v of Object.values(ns)) {
        if (typeof v === 'function' && (v as any).apiVersion && (v as any).kind) register(v);
        else if (depth > 0 && typeof v === 'object' && v !== null) walk(v, depth - 1);
      }
    };
    walk(km, 2);
    for (const kind of ['WorkflowTemplate', 'ClusterWorkflowTemplate', 'CronWorkflow', 'Workflow']) {
      const mod = await import(`@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/${kind}`);
      register(mod[kind]);
    }
    for (const [key, schema] of Object.entries(CRD_SCHEMAS)) {
      const check = new Ajv({ allErrors: true, strict: false }).compile(schema);
      map.set(key, (doc) => {
        if (!check(doc)) throw new Error(check.errors?.map((e) => `${e.instancePath || '/'} ${e.message}`).join(', '));
      });
    }
    return map;
  })();
  return registry;
}

/** Minimal schemas for the CRDs we emit that kubernetes-models does not ship. */
const CRD_SCHEMAS: Record<string, object> = {
  'monitoring.coreos.com/v1 ServiceMonitor': {
    type: 'object',
    required: ['metadata', 'spec'],
    properties: {
      spec: {
        type: 'object',
        required: ['selector', 'endpoints'],
        properties: {
          selector: { type: 'object' },
          endpoints: { type: 'array', minItems: 1, items: { type: 'object', required: ['port'], properties: { port: { type: 'string' }, path: { type: 'string' } } } },
        },
      },
    },
  },
  'cert-manager.io/v1 Certificate': {
    type: 'object',
    required: ['metadata', 'spec'],
    properties: {
      spec: {
        type: 'object',
        required: ['secretName', 'issuerRef'],
        properties: {
          secretName: { type: 'string', minLength: 1 },
          dnsNames: { type: 'array', items: { type: 'string' } },
          issuerRef: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 }, kind: { enum: ['Issuer', 'ClusterIssuer'] } } },
        },
      },
    },
  },
};

function checkSchema(o: ManifestObject, schemas: Map<string, Validator>, add: AddFn): void {
  const key = `${o.doc.apiVersion} ${o.doc.kind}`;
  const validate = schemas.get(key);
  if (!validate) {
    add(o, 'schema', `no schema is known for ${key}; add one to scripts/validate-manifests.ts or fix apiVersion/kind.`);
    return;
  }
  try {
    validate(o.doc);
  } catch (e) {
    add(o, 'schema', `does not match the ${key} schema: ${(e as Error).message}`);
  }
}

// ── names ───────────────────────────────────────────────────────────────────────────────────

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kinds whose names become DNS labels (Service DNS, namespace DNS). */
const LABEL_NAMED = new Set(['Service', 'Namespace']);

function checkNames(o: ManifestObject, add: AddFn): void {
  const name = o.doc.metadata?.name;
  if (typeof name !== 'string') return add(o, 'dns-1123', 'metadata.name is missing.');
  if (LABEL_NAMED.has(o.doc.kind)) {
    if (name.length > 63 || !DNS1123_LABEL.test(name)) add(o, 'dns-1123', `name "${name}" must be a DNS-1123 label (≤ 63 lowercase alphanumerics or '-').`);
  } else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    add(o, 'dns-1123', `name "${name}" must be a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.').`);
  }
  const ns = o.doc.metadata?.namespace;
  if (ns !== undefined && (typeof ns !== 'string' || ns.length > 63 || !DNS1123_LABEL.test(ns))) {
    add(o, 'dns-1123', `namespace "${ns}" must be a DNS-1123 label.`);
  }
}

// ── workloads: selectors and probes ─────────────────────────────────────────────────────────

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'ReplicaSet']);

function podTemplate(doc: any): any | undefined {
  if (WORKLOAD_KINDS.has(doc.kind)) return doc.spec?.template;
  if (doc.kind === 'CronJob') return doc.spec?.jobTemplate?.spec?.template;
  if (doc.kind === 'Pod') return doc;
  return undefined;
}

function checkWorkload(o: ManifestObject, add: AddFn): void {
  const template = podTemplate(o.doc);
  if (!template) return;
  const selector = o.doc.spec?.selector;
  if (selector && o.doc.kind !== 'Job' && !labelSelectorMatches(selector, template.metadata?.labels ?? {})) {
    add(o, 'selector', 'spec.selector does not match the pod template labels; the controller would never own its pods.');
  }
  const spec = template.spec ?? {};
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    const numbers = new Set<number>((c.ports ?? []).map((p: any) => p.containerPort));
    const names = new Set<string>((c.ports ?? []).map((p: any) => p.name).filter(Boolean));
    for (const kind of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const probe = c[kind];
      if (!probe) continue;
      const handler = probe.grpc ?? probe.httpGet ?? probe.tcpSocket;
      if (!handler && !probe.exec) {
        add(o, 'probe-port', `container "${c.name}" ${kind} has no handler (grpc, httpGet, tcpSocket or exec).`);
        continue;
      }
      if (!handler) continue;
      const port = handler.port;
      const ok = typeof port === 'number' ? numbers.has(port) : names.has(port);
      if (!ok) add(o, 'probe-port', `container "${c.name}" ${kind} targets port ${JSON.stringify(port)}, which it does not declare in ports.`);
    }
  }
}

// ── credentials ─────────────────────────────────────────────────────────────────────────────

const CREDENTIAL_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEYS?|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL)/i;
const REFERENCE_NAME = /(_FILE|_PATH|_DIR|_NAME|_URL|_ENDPOINT)$/i;
const CREDENTIAL_VALUE = [/AKIA[0-9A-Z]{16}/, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, /\bgh[pousr]_[A-Za-z0-9]{36}\b/];

function checkCredentials(o: ManifestObject, add: AddFn): void {
  const doc = o.doc;
  if (doc.kind === 'Secret' && (hasEntries(doc.data) || hasEntries(doc.stringData))) {
    add(o, 'no-literal-credentials', 'a Secret with data is committed to the manifests; create it out of band and reference it by name.');
  }
  if (doc.kind === 'ConfigMap') {
    for (const key of Object.keys(doc.data ?? {})) {
      if (CREDENTIAL_NAME.test(key) && !REFERENCE_NAME.test(key)) {
        add(o, 'no-literal-credentials', `ConfigMap key "${key}" looks like a credential; move it to a Secret.`);
      }
    }
  }
  const spec = podTemplate(doc)?.spec;
  for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) {
    for (const e of c.env ?? []) {
      if (CREDENTIAL_NAME.test(e.name) && !REFERENCE_NAME.test(e.name) && typeof e.value === 'string' && e.value !== '') {
        add(o, 'no-literal-credentials', `container "${c.name}" env ${e.name} has a literal value; use valueFrom.secretKeyRef.`);
      }
    }
  }
  const text = JSON.stringify(doc);
  for (const pattern of CREDENTIAL_VALUE) {
    if (pattern.test(text)) add(o, 'no-literal-credentials', `contains something that looks like a key or token (${pattern.source}); remove it.`);
  }
}

// ── cross-object references ─────────────────────────────────────────────────────────────────

function checkCrossReferences(objects: readonly ManifestObject[], add: AddFn): void {
  const pods = objects
    .filter((o) => podTemplate(o.doc) && o.doc.kind !== 'Job' && o.doc.kind !== 'CronJob')
    .map((o) => ({ o, ns: o.doc.metadata?.namespace, labels: podTemplate(o.doc).metadata?.labels ?? {} }));
  const byKindName = new Set(objects.map((o) => `${o.doc.kind}/${o.doc.metadata?.namespace}/${o.doc.metadata?.name}`));
  for (const o of objects) {
    const ns = o.doc.metadata?.namespace;
    if (o.doc.kind === 'Service' && o.doc.spec?.selector && Object.keys(o.doc.spec.selector).length > 0) {
      const selected = pods.filter((p) => p.ns === ns && labelsMatch(o.doc.spec.selector, p.labels));
      if (selected.length === 0) {
        add(o, 'service-selects-workload', `selector ${JSON.stringify(o.doc.spec.selector)} matches no Deployment or StatefulSet pod template in namespace ${ns}.`);
      }
      for (const sp of o.doc.spec.ports ?? []) {
        const target = sp.targetPort ?? sp.port;
        const served = selected.some((p) =>
          (podTemplate(p.o.doc).spec?.containers ?? []).some((c: any) =>
            (c.ports ?? []).some((cp: any) => (typeof target === 'number' ? cp.containerPort === target : cp.name === target)),
          ),
        );
        if (selected.length > 0 && !served) add(o, 'service-port', `port "${sp.name ?? sp.port}" targets ${target}, which no selected container declares.`);
      }
    }
    if (o.doc.kind === 'PodDisruptionBudget' && !pods.some((p) => p.ns === ns && labelSelectorMatches(o.doc.spec?.selector ?? {}, p.labels))) {
      add(o, 'pdb-selects-workload', 'selector matches no pod template in its namespace; the budget protects nothing.');
    }
    if (o.doc.kind === 'HorizontalPodAutoscaler') {
      const ref = o.doc.spec?.scaleTargetRef;
      if (!byKindName.has(`${ref?.kind}/${ns}/${ref?.name}`)) add(o, 'hpa-target', `scaleTargetRef ${ref?.kind}/${ref?.name} is not in the manifests.`);
    }
  }
}

// ── helpers ─────────────────────────────────────────────────────────────────────────────────

type AddFn = (o: ManifestObject, rule: string, message: string) => void;

function resourceId(doc: any): string {
  return [doc?.kind, doc?.metadata?.namespace, doc?.metadata?.name].filter(Boolean).join('/');
}

function hasEntries(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.keys(v).length > 0;
}

function labelsMatch(want: Record<string, string>, have: Record<string, string>): boolean {
  return Object.entries(want).every(([k, v]) => have[k] === v);
}

/** A `LabelSelector` (matchLabels + matchExpressions) against a label set. */
function labelSelectorMatches(selector: any, labels: Record<string, string>): boolean {
  if (!labelsMatch(selector.matchLabels ?? {}, labels)) return false;
  return (selector.matchExpressions ?? []).every((e: any) => {
    const has = Object.hasOwn(labels, e.key);
    switch (e.operator) {
      case 'In': return has && e.values.includes(labels[e.key]);
      case 'NotIn': return !has || !e.values.includes(labels[e.key]);
      case 'Exists': return has;
      case 'DoesNotExist': return !has;
      default: return false;
    }
  });
}

// ── command line ────────────────────────────────────────────────────────────────────────────

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const json = process.argv.includes('--json');
  const files = process.argv.slice(2).filter((a) => a !== '--json');
  if (files.length === 0) {
    console.error('usage: tsx scripts/validate-manifests.ts [--json] <manifest.yaml>...');
    process.exit(64);
  }
  const objects = loadManifests(files);
  const violations = await validateManifests(objects);
  if (json) {
    // For the cdk8s plugin: it turns these into its own report and decides the exit code.
    console.log(JSON.stringify({ objects: objects.length, violations }));
  } else if (violations.length > 0) {
    console.error(formatViolations(violations));
    process.exit(1);
  } else {
    console.log(`${objects.length} objects in ${files.length} file(s): valid.`);
  }
}
