// Semantic checks on a pipeline document, run before anything is emitted. Each finding names the
// pipeline, the step and the field, and says what to change.
import type { z } from 'zod';
import { DetectRequest, FilterRequest, ResizeRequest } from '../../services/shared/http-api.js';
import {
  isItemValue,
  isParamValue,
  isRefValue,
  isStepValue,
  type Condition,
  type ImageStepDoc,
  type LeafStepDoc,
  type ParamDecl,
  type PipelineDocument,
  type StepDoc,
} from './document.js';
import { PipelineError } from './errors.js';
import { conditionSteps, isImageStep, upstreamOf } from './plan.js';

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Argo refuses CronWorkflow names over 52 characters; keep every pipeline schedulable. */
export const MAX_PIPELINE_NAME = 52;
export const MAX_STEP_ID = 63;
export const PARAM_NAME = /^[a-zA-Z][a-zA-Z0-9_-]*$/;
/** Argo's CRD limits. */
export const MAX_TEMPLATES = 200;
export const MAX_DAG_TASKS = 200;

const REQUESTS: Record<ImageStepDoc['op'], z.ZodType> = {
  resize: ResizeRequest,
  filter: FilterRequest,
  detect: DetectRequest,
};

/** A value of the parameter's type that stands in for it when the gateway schema checks a step. */
function sampleOf(decl: ParamDecl): unknown {
  if (decl.default !== undefined) return decl.default;
  switch (decl.type) {
    case 'number':
      return 1;
    case 'boolean':
      return false;
    case 'enum':
      return decl.values?.[0];
    case 'objectKeys':
      return ['sample.jpg'];
    default:
      return 'sample.jpg';
  }
}

export function checkPipeline(doc: PipelineDocument): PipelineError[] {
  const errors: PipelineError[] = [];
  const p = doc.name;
  const fail = (step: string | undefined, field: string | undefined, detail: string) =>
    errors.push(new PipelineError(p, step, field, detail));
  const params = doc.params ?? {};

  if (!DNS1123_LABEL.test(p))
    fail(undefined, 'name', 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit');
  if (p.length > MAX_PIPELINE_NAME)
    fail(undefined, 'name', `is ${p.length} characters; use at most ${MAX_PIPELINE_NAME} (Argo's limit for CronWorkflow names)`);

  for (const [name, decl] of Object.entries(params)) {
    const field = `params.${name}`;
    if (!PARAM_NAME.test(name) || name.length > 63)
      fail(undefined, field, 'parameter names must start with a letter and use only letters, digits, "_" and "-" (at most 63)');
    if (decl.type === 'enum' && !decl.values) fail(undefined, field, 'an enum parameter needs "values"');
    if (decl.default !== undefined) {
      const d = decl.default;
      const ok =
        decl.type === 'number' ? typeof d === 'number'
        : decl.type === 'boolean' ? typeof d === 'boolean'
        : decl.type === 'objectKeys' ? Array.isArray(d)
        : decl.type === 'enum' ? typeof d === 'string' && !!decl.values?.includes(d)
        : typeof d === 'string';
      if (!ok) fail(undefined, field, `default ${JSON.stringify(d)} does not fit a ${decl.type} parameter`);
    }
  }

  // Ids, scopes and order.
  const scopeOf = new Map<string, string>(); // step id → 'main' or the forEach id
  const position = new Map<string, number>();
  const all: { step: StepDoc; scope: string }[] = [];
  doc.steps.forEach((s) => {
    all.push({ step: s, scope: 'main' });
    if (s.op === 'forEach') s.steps.forEach((inner) => all.push({ step: inner, scope: s.id }));
  });
  all.forEach(({ step, scope }, i) => {
    if (!DNS1123_LABEL.test(step.id) || step.id.length > MAX_STEP_ID)
      fail(step.id, 'id', `must be a DNS-1123 label of at most ${MAX_STEP_ID} characters: lowercase letters, digits and "-"`);
    if (scopeOf.has(step.id)) fail(step.id, 'id', 'is used by two steps; give each step its own id');
    scopeOf.set(step.id, scope);
    position.set(step.id, i);
  });
  const byId = new Map(all.map(({ step }) => [step.id, step]));

  const checkParamRef = (step: string, field: string, name: string, want: ParamDecl['type'][]): ParamDecl | undefined => {
    const decl = params[name];
    if (!decl) {
      fail(step, field, `refers to parameter "${name}", which is not declared; add it to params`);
      return undefined;
    }
    if (!want.includes(decl.type)) {
      fail(step, field, `parameter "${name}" is of type ${decl.type}; this field needs ${want.join(' or ')}`);
      return undefined;
    }
    return decl;
  };

  const checkStepRef = (step: StepDoc, scope: string, field: string, id: string): StepDoc | undefined => {
    const target = byId.get(id);
    if (!target) {
      fail(step.id, field, `refers to step "${id}", which does not exist`);
      return undefined;
    }
    if (target.id === step.id) {
      fail(step.id, field, 'refers to the step itself');
      return undefined;
    }
    if (scopeOf.get(id) !== scope) {
      const other = scopeOf.get(id) === 'main' ? 'outside the forEach' : `inside forEach "${scopeOf.get(id)}"`;
      fail(step.id, field, `refers to step "${id}", which is ${other}; a forEach branch only sees its own steps and the parameters`);
      return undefined;
    }
    return target;
  };

  const checkImage = (step: StepDoc, scope: string, field: string, value: unknown) => {
    if (isParamValue(value)) checkParamRef(step.id, field, value.$param, ['objectKey']);
    else if (isItemValue(value)) {
      if (scope === 'main') fail(step.id, field, '{"$item": true} is only valid inside a forEach');
    } else if (isStepValue(value)) {
      const target = checkStepRef(step, scope, field, value.$step);
      if (target && !isImageStep(target))
        fail(step.id, field, `step "${target.id}" is a ${target.op} step and produces no image; pass an image step or an objectKey parameter`);
    } else
      fail(step.id, field, 'must be an image: {"$param": <objectKey parameter>}, {"$step": <image step>} or {"$item": true}');
  };

  const checkCondition = (step: StepDoc, scope: string, c: Condition) => {
    if ('and' in c) return c.and.forEach((x) => checkCondition(step, scope, x));
    if ('or' in c) return c.or.forEach((x) => checkCondition(step, scope, x));
    if ('not' in c) return checkCondition(step, scope, c.not);
    if ('detections' in c) {
      const target = checkStepRef(step, scope, 'when', c.detections);
      if (!target) return;
      if (target.op !== 'detect')
        fail(step.id, 'when', `tests the detections of step "${target.id}", a ${target.op} step that produces none; use a detect step`);
      else if ((position.get(target.id) ?? 0) > (position.get(step.id) ?? 0))
        fail(step.id, 'when', `tests the detections of step "${target.id}", which is not produced yet; declare "${target.id}" before "${step.id}"`);
      return;
    }
    const decl = checkParamRef(step.id, 'when', c.param, ['string', 'number', 'boolean', 'enum', 'objectKey']);
    if (!decl) return;
    if (decl.type !== 'number' && !['==', '!='].includes(c.op))
      fail(step.id, 'when', `compares ${decl.type} parameter "${c.param}" with ${c.op}; only number parameters can use ${c.op}, use == or !=`);
    const valueType = decl.type === 'number' ? 'number' : decl.type === 'boolean' ? 'boolean' : 'string';
    if (typeof c.value !== valueType)
      fail(step.id, 'when', `compares ${decl.type} parameter "${c.param}" with ${JSON.stringify(c.value)}; use a ${valueType}`);
    else if (decl.type === 'enum' && !decl.values?.includes(c.value as string))
      fail(step.id, 'when', `compares enum parameter "${c.param}" with "${c.value}", which is not one of ${decl.values?.join(', ')}`);
  };

  const checkOptions = (step: ImageStepDoc) => {
    const probe: Record<string, unknown> = { input: { key: 'sample.jpg' } };
    const paramOf = new Map<string, string>();
    for (const [key, value] of Object.entries(step.params)) {
      if (key === 'input') continue;
      if (key === 'output' && typeof value === 'object' && value !== null && !isRefValue(value)) {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(value)) out[k] = substitute(step, `output.${k}`, v, paramOf);
        probe.output = out;
      } else probe[key] = substitute(step, key, value, paramOf);
    }
    if (step.op === 'detect' && isRefValue(step.params.drawBoxes))
      fail(step.id, 'drawBoxes', 'must be true or false, not a parameter: it decides whether the step produces a new image');
    const parsed = REQUESTS[step.op].safeParse(probe);
    if (parsed.success) return checkEnumValues(step, probe, paramOf);
    for (const issue of parsed.error.issues) {
      const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
      const path = [...issue.path.map(String), ...(keys.length === 1 ? keys : [])].join('.') || undefined;
      const viaParam = path && paramOf.get(path);
      const detail = keys.length
        ? `is not a ${step.op} option; check the spelling against the gateway API (services/shared/http-api.ts)`
        : viaParam
          ? `parameter "${viaParam}" does not fit: ${issue.message}`
          : issue.message;
      fail(step.id, path, detail);
    }
  };

  // The probe tried one value of each enum parameter; every value must fit.
  const checkEnumValues = (step: ImageStepDoc, probe: Record<string, unknown>, paramOf: Map<string, string>) => {
    for (const [field, name] of paramOf) {
      const decl = params[name];
      if (decl?.type !== 'enum') continue;
      const [head, sub] = field.split('.');
      for (const value of decl.values ?? []) {
        const trial = structuredClone(probe);
        if (sub) (trial[head] as Record<string, unknown>)[sub] = value;
        else trial[head] = value;
        const result = REQUESTS[step.op].safeParse(trial);
        if (!result.success) {
          fail(step.id, field, `parameter "${name}" does not fit: its value "${value}" is refused: ${result.error.issues[0].message}`);
          break;
        }
      }
    }
  };

  const substitute = (step: StepDoc, field: string, value: unknown, paramOf: Map<string, string>): unknown => {
    if (isParamValue(value)) {
      const decl = params[value.$param];
      if (!decl) {
        fail(step.id, field, `refers to parameter "${value.$param}", which is not declared; add it to params`);
        return undefined;
      }
      paramOf.set(field, value.$param);
      return sampleOf(decl);
    }
    if (isStepValue(value) || isItemValue(value)) {
      fail(step.id, field, 'an image can only be passed as "input"');
      return undefined;
    }
    return value;
  };

  const checkHttpBody = (step: StepDoc, scope: string, value: unknown, field: string) => {
    if (isParamValue(value)) checkParamRef(step.id, field, value.$param, ['objectKey', 'objectKeys', 'string', 'number', 'boolean', 'enum']);
    else if (isStepValue(value) || isItemValue(value)) checkImage(step, scope, field, value);
    else if (typeof value === 'object' && value !== null)
      Object.entries(value).forEach(([k, v]) => checkHttpBody(step, scope, v, `${field}.${k}`));
  };

  const checkLeaf = (step: LeafStepDoc, scope: string) => {
    for (const id of step.dependsOn ?? []) checkStepRef(step, scope, 'dependsOn', id);
    if (step.when) checkCondition(step, scope, step.when);
    if (step.op === 'http') {
      const url = step.params.url;
      if (!url.startsWith('/') && !/^https?:\/\//.test(url))
        fail(step.id, 'url', `"${url}" must be absolute (http:// or https://) or a gateway path starting with "/"`);
      if (step.params.body !== undefined) checkHttpBody(step, scope, step.params.body, 'body');
      return;
    }
    checkImage(step, scope, 'input', step.params.input);
    checkOptions(step);
  };

  for (const step of doc.steps) {
    if (step.op !== 'forEach') {
      checkLeaf(step, 'main');
      continue;
    }
    checkParamRef(step.id, 'over', step.over.$param, ['objectKeys']);
    for (const id of step.dependsOn ?? []) checkStepRef(step, 'main', 'dependsOn', id);
    step.steps.forEach((inner) => checkLeaf(inner, step.id));
    if (!step.steps.some((s) => s.id === step.gather))
      fail(step.id, 'gather', `"${step.gather}" is not a step of this forEach; gather one of ${step.steps.map((s) => s.id).join(', ')}`);
  }

  for (const [name, id] of Object.entries(doc.outputs ?? {})) {
    if (!PARAM_NAME.test(name)) fail(undefined, `outputs.${name}`, 'output names must start with a letter and use only letters, digits, "_" and "-"');
    if (!byId.has(id)) fail(undefined, `outputs.${name}`, `refers to step "${id}", which does not exist`);
    else if (scopeOf.get(id) !== 'main')
      fail(undefined, `outputs.${name}`, `refers to step "${id}" inside forEach "${scopeOf.get(id)}"; expose the forEach "${scopeOf.get(id)}" instead`);
  }

  const exit = doc.options?.onExit;
  if (exit && typeof exit.url === 'string' && !exit.url.startsWith('/') && !/^https?:\/\//.test(exit.url))
    fail(undefined, 'options.onExit.url', `"${exit.url}" must be absolute (http:// or https://) or a gateway path starting with "/"`);
  if (exit && typeof exit.url !== 'string') checkParamRef('on-exit', 'url', exit.url.$param, ['string']);
  const checkExitBody = (value: unknown, field: string) => {
    if (isParamValue(value)) checkParamRef('on-exit', field, value.$param, ['objectKey', 'objectKeys', 'string', 'number', 'boolean', 'enum']);
    else if (isStepValue(value) || isItemValue(value))
      fail('on-exit', field, 'the exit handler runs after the DAG and can only send parameters, not step images');
    else if (typeof value === 'object' && value !== null) Object.entries(value).forEach(([k, v]) => checkExitBody(v, `${field}.${k}`));
  };
  if (exit?.body) checkExitBody(exit.body, 'body');

  if (errors.length === 0) errors.push(...findCycles(doc));
  return errors;
}

/** A cycle through data, detections or dependsOn, reported once with its path. */
function findCycles(doc: PipelineDocument): PipelineError[] {
  const errors: PipelineError[] = [];
  const scopes: StepDoc[][] = [doc.steps, ...doc.steps.flatMap((s) => (s.op === 'forEach' ? [s.steps] : []))];
  for (const steps of scopes) {
    const byId = new Map(steps.map((s) => [s.id, s]));
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (s: StepDoc, path: string[]): boolean => {
      if (state.get(s.id) === 'done') return false;
      if (state.get(s.id) === 'visiting') {
        const cycle = [...path.slice(path.indexOf(s.id)), s.id];
        errors.push(
          new PipelineError(doc.name, s.id, undefined, `is part of a cycle ${cycle.join(' -> ')}; remove one of these references`),
        );
        return true;
      }
      state.set(s.id, 'visiting');
      for (const id of upstreamOf(s)) {
        const up = byId.get(id);
        if (up && visit(up, [...path, s.id])) return true;
      }
      state.set(s.id, 'done');
      return false;
    };
    for (const s of steps) if (visit(s, [])) break;
  }
  return errors;
}

/** Throw the first finding, if any. */
export function assertValid(doc: PipelineDocument): void {
  const [first] = checkPipeline(doc);
  if (first) throw first;
}

export { conditionSteps };
