// Planning: which steps become which DAG task. With fusion on, a run of image steps where each
// feeds only the next (no branching, no condition, same retry and continueOn, no explicit output
// in the middle, at least one step that stores an image) becomes one task calling /v1/pipeline;
// everything else is one task per step.
import { MAX_PIPELINE_STEPS } from '../../services/shared/http-api.js';
import {
  isStepValue,
  type Condition,
  type ForEachDoc,
  type ImageStepDoc,
  type LeafStepDoc,
  type PipelineDocument,
  type StepDoc,
} from './document.js';

export interface PlannedTask {
  /** The DAG task name: the step id, or `<first>-to-<last>` for a fused chain. */
  readonly name: string;
  /** The steps this task runs: one, or a fused chain in order. */
  readonly steps: readonly LeafStepDoc[];
  readonly forEach?: PlannedForEach;
}

export interface PlannedForEach {
  readonly doc: ForEachDoc;
  readonly dag: PlannedDag;
}

export interface PlannedDag {
  readonly tasks: readonly PlannedTask[];
  /** Step id → the task that runs it. */
  readonly taskOf: ReadonlyMap<string, PlannedTask>;
}

export const isImageStep = (s: StepDoc | undefined): s is ImageStepDoc =>
  !!s && (s.op === 'resize' || s.op === 'filter' || s.op === 'detect');

/** Whether a step stores a new image (a detect step only with drawBoxes). */
export const producesImage = (s: LeafStepDoc) => isImageStep(s) && (s.op !== 'detect' || s.params.drawBoxes === true);

/** Every step id a value refers to through `$step`, searched through nested objects. */
export function stepRefsIn(value: unknown, into: string[] = []): string[] {
  if (isStepValue(value)) into.push(value.$step);
  else if (Array.isArray(value)) value.forEach((v) => stepRefsIn(v, into));
  else if (typeof value === 'object' && value !== null) Object.values(value).forEach((v) => stepRefsIn(v, into));
  return into;
}

export function conditionSteps(c: Condition | undefined, into: string[] = []): string[] {
  if (!c) return into;
  if ('and' in c) c.and.forEach((x) => conditionSteps(x, into));
  else if ('or' in c) c.or.forEach((x) => conditionSteps(x, into));
  else if ('not' in c) conditionSteps(c.not, into);
  else if ('detections' in c) into.push(c.detections);
  return into;
}

/** Every step a step needs before it can run: data, detections in `when`, explicit dependsOn. */
export function upstreamOf(step: StepDoc): string[] {
  const ids =
    step.op === 'forEach'
      ? [...(step.dependsOn ?? [])]
      : [...stepRefsIn(step.params), ...conditionSteps(step.when), ...(step.dependsOn ?? [])];
  return [...new Set(ids)];
}

/** Steps in an order where each comes after what it needs; document order among equals. */
export function topologicalOrder<S extends StepDoc>(steps: readonly S[]): S[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const done = new Set<string>();
  const out: S[] = [];
  const visit = (s: S, path: Set<string>) => {
    if (done.has(s.id) || path.has(s.id)) return;
    path.add(s.id);
    for (const id of upstreamOf(s)) {
      const up = byId.get(id);
      if (up) visit(up, path);
    }
    path.delete(s.id);
    done.add(s.id);
    out.push(s);
  };
  steps.forEach((s) => visit(s, new Set()));
  return out;
}

const runKey = (s: LeafStepDoc) => JSON.stringify([s.retry ?? null, s.continueOn ?? null]);

function planDag(steps: readonly StepDoc[], fusion: boolean, outputs: readonly string[]): PlannedDag {
  // How many times each step is referenced, by anything.
  const refs = new Map<string, number>();
  const count = (id: string) => refs.set(id, (refs.get(id) ?? 0) + 1);
  for (const s of steps) upstreamOf(s).forEach(count);
  outputs.forEach(count);

  const byId = new Map(steps.map((s) => [s.id, s]));
  const chainOf = new Map<string, LeafStepDoc[]>();
  const chains: LeafStepDoc[][] = [];
  const planned: PlannedTask[] = [];
  const order = topologicalOrder(steps);

  const fusesInto = (s: ImageStepDoc): LeafStepDoc[] | undefined => {
    if (!fusion || s.when || s.dependsOn?.length) return undefined;
    const input = s.params.input;
    if (!isStepValue(input)) return undefined;
    const up = byId.get(input.$step);
    if (!isImageStep(up) || refs.get(up.id) !== 1 || up.params.output !== undefined) return undefined;
    const chain = chainOf.get(up.id);
    if (!chain || chain[chain.length - 1] !== up || chain.length >= MAX_PIPELINE_STEPS) return undefined;
    // /v1/pipeline refuses a chain that stores no image (detections alone go to /v1/detect).
    if (![...chain, s].some(producesImage)) return undefined;
    return runKey(up) === runKey(s) ? chain : undefined;
  };

  for (const s of order) {
    if (s.op === 'forEach') continue;
    const chain = (isImageStep(s) && fusesInto(s)) || undefined;
    if (chain) chain.push(s);
    else chains.push([s]);
    chainOf.set(s.id, chain ?? chains[chains.length - 1]);
  }

  const taskOf = new Map<string, PlannedTask>();
  const chainTask = new Map<LeafStepDoc[], PlannedTask>();
  for (const chain of chains) {
    const name = chain.length === 1 ? chain[0].id : `${chain[0].id}-to-${chain[chain.length - 1].id}`;
    const task: PlannedTask = { name, steps: chain };
    chainTask.set(chain, task);
    chain.forEach((s) => taskOf.set(s.id, task));
  }
  // Emit tasks in topological order of their first step, forEach tasks where they stand.
  for (const s of order) {
    if (s.op === 'forEach') {
      const inner = planDag(s.steps, fusion, [s.gather]);
      const task: PlannedTask = { name: s.id, steps: [], forEach: { doc: s, dag: inner } };
      taskOf.set(s.id, task);
      planned.push(task);
    } else {
      const task = chainTask.get(chainOf.get(s.id)!)!;
      if (task.steps[0] === s) planned.push(task);
    }
  }
  return { tasks: planned, taskOf };
}

export function planPipeline(doc: PipelineDocument): PlannedDag {
  return planDag(doc.steps, doc.options?.fusion ?? true, Object.values(doc.outputs ?? {}));
}
