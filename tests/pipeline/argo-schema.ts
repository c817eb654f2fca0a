// Validation of emitted Argo objects against both sources of Argo's schema:
//  1. @kubernetes-models/argo-workflows (generated from Argo's Go types / CRDs), when installed;
//  2. ../shared/argo: the JSON Schema (schema.json) and the CRDs' openAPIV3Schema (which adds
//     limits such as at most 200 templates), when present. CEL rules (x-kubernetes-validations)
//     are not evaluated.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

const SHARED = new URL('../../../shared/argo/', import.meta.url);
const KINDS = ['WorkflowTemplate', 'Workflow', 'CronWorkflow'] as const;
type Kind = (typeof KINDS)[number];
const CRD_FILES: Record<Kind, string> = {
  WorkflowTemplate: 'argoproj.io_workflowtemplates.yaml',
  Workflow: 'argoproj.io_workflows.yaml',
  CronWorkflow: 'argoproj.io_cronworkflows.yaml',
};

export const sharedSchemaPresent = existsSync(new URL('schema.json', SHARED));
const require = createRequire(import.meta.url);
export const modelsPresent = (() => {
  try {
    require.resolve('@kubernetes-models/argo-workflows/package.json');
    return true;
  } catch {
    return false;
  }
})();

const errorsText = (v: ValidateFunction) =>
  (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

// Compiling these schemas takes seconds each on a busy machine: compile lazily, once per kind.
let jsonSchemaAjv: Ajv2020 | undefined;
const jsonSchemaValidators = new Map<Kind, ValidateFunction>();
const crdValidators = new Map<Kind, ValidateFunction>();

function jsonSchema(kind: Kind): ValidateFunction {
  if (!jsonSchemaAjv) {
    jsonSchemaAjv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    jsonSchemaAjv.addSchema(JSON.parse(readFileSync(new URL('schema.json', SHARED), 'utf8')), 'argo');
  }
  if (!jsonSchemaValidators.has(kind))
    jsonSchemaValidators.set(kind, jsonSchemaAjv.compile({ $ref: `argo#/definitions/io.argoproj.workflow.v1alpha1.${kind}` }));
  return jsonSchemaValidators.get(kind)!;
}

function crdSchema(kind: Kind): ValidateFunction {
  if (!crdValidators.has(kind)) {
    const crd = parse(readFileSync(new URL(CRD_FILES[kind], SHARED), 'utf8'));
    const ajv = new Ajv({ strict: false, validateFormats: false });
    crdValidators.set(kind, ajv.compile(crd.spec.versions[0].schema.openAPIV3Schema));
  }
  return crdValidators.get(kind)!;
}

/** Compile the validators of these kinds now (call from beforeAll with a long timeout). */
export async function warmUp(kinds: readonly Kind[]): Promise<void> {
  if (modelsPresent) await import('@kubernetes-models/argo-workflows/argoproj.io/v1alpha1');
  if (!sharedSchemaPresent) return;
  for (const kind of kinds) {
    jsonSchema(kind);
    crdSchema(kind);
  }
}

async function modelsValidate(kind: Kind, object: unknown): Promise<void> {
  const models = await import('@kubernetes-models/argo-workflows/argoproj.io/v1alpha1');
  const Model = models[kind] as unknown as new (o: unknown) => { validate(): void };
  new Model(object).validate();
}

/** Every problem any available schema finds; empty when valid. Says which checks ran. */
export async function validateArgoObject(object: { kind: string }): Promise<{ problems: string[]; checks: string[] }> {
  const kind = object.kind as Kind;
  if (!KINDS.includes(kind)) throw new Error(`not an Argo kind this helper knows: ${object.kind}`);
  const problems: string[] = [];
  const checks: string[] = [];
  if (modelsPresent) {
    checks.push('@kubernetes-models/argo-workflows');
    try {
      await modelsValidate(kind, object);
    } catch (e) {
      problems.push(`kubernetes-models: ${(e as Error).message}`);
    }
  }
  if (sharedSchemaPresent) {
    checks.push('schema.json', 'crd');
    const plain = JSON.parse(JSON.stringify(object));
    const js = jsonSchema(kind);
    if (!js(plain)) problems.push(`schema.json: ${errorsText(js)}`);
    const crd = crdSchema(kind);
    if (!crd(plain)) problems.push(`CRD: ${errorsText(crd)}`);
  }
  return { problems, checks };
}
