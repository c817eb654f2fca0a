// The typed DSL: a pipeline body reads top to bottom like the workflow it produces. Every call
// appends one step to a pipeline document; the handles it returns carry the types that make wrong
// options and wrong wiring compile errors. Option types come from the gateway's own schemas.
import type {
  DetectOptions,
  FilterOptions,
  OutputOptions,
  ResizeOptions,
} from '../../services/shared/http-api.js';
import type {
  Condition,
  ContinueOn,
  ForEachDoc,
  HttpStepDoc,
  ImageStepDoc,
  LeafStepDoc,
  PipelineDocument,
  PipelineOptions,
  Retry,
  StepDoc,
} from './document.js';
import { type ParamRefs, type ParamSpecs } from './params.js';
import { Pipeline } from './pipeline.js';
import { DetectionsRef, ImageListRef, ImageRef, Param } from './refs.js';

/** Each option may be a literal or a parameter of the same type. */
export type Valued<T> = { [K in keyof T]: T[K] | Param<Exclude<T[K], undefined>> };

interface ImageIO {
  /** The image to work on: an objectKey parameter, another step's `.image`, or a forEach image. */
  readonly input: ImageRef;
  /** Where and how to store the result. Default: a deterministic key next to the input. */
  readonly output?: Valued<OutputOptions>;
}
export type ResizeSpec = ImageIO & Valued<ResizeOptions>;
export type FilterSpec = ImageIO & Valued<FilterOptions>;
export type DetectSpec = ImageIO & Valued<DetectOptions>;

/** A JSON body; any value in it may be a parameter or an image (sent as its object key). */
export type HttpBody = Record<string, unknown | Param<unknown> | ImageRef>;
export interface HttpSpec {
  /** Absolute URL, or a path such as "/v1/other" on the gateway. */
  readonly url: string;
  /** Default: POST. */
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly body?: HttpBody;
}

/** Any step a later step can wait for. */
export interface StepHandle {
  readonly id: string;
}

export interface RunOptions {
  /** Wait for these steps although no data flows from them. */
  readonly dependsOn?: readonly StepHandle[];
  /** Run only when this holds; build it from `.detections` or parameters. */
  readonly when?: Condition;
  /** Retries on gateway 5xx/429 and network errors (never 4xx); `false` for none. Default: the pipeline's. */
  readonly retry?: Retry | false;
  /** Per HTTP request. Default: the pipeline's, else 60. */
  readonly timeoutSeconds?: number;
  /** Let the pipeline continue when this step fails or errors. */
  readonly continueOn?: ContinueOn;
}

export class ImageStep implements StepHandle {
  /** The image this step produces, to feed into later steps. */
  readonly image: ImageRef;
  constructor(readonly id: string) {
    this.image = new ImageRef({ $step: id });
  }
}

export class DetectStep extends ImageStep {
  /** The detections, for `when` conditions. */
  readonly detections: DetectionsRef;
  constructor(id: string) {
    super(id);
    this.detections = new DetectionsRef(id);
  }
}

export class HttpStep implements StepHandle {
  constructor(readonly id: string) {}
}

/** A fan-out: its result is the JSON array of every branch's gathered step result. */
export class ForEachStep implements StepHandle {
  constructor(readonly id: string) {}
}

/** The document value of a spec value: handles become references, anywhere in the tree. */
function toValue(v: unknown): unknown {
  if (v instanceof Param || v instanceof ImageRef || v instanceof ImageListRef) return v.toValue();
  if (Array.isArray(v)) return v.map(toValue);
  if (typeof v === 'object' && v !== null) return toParams(v);
  return v;
}

function toParams(spec: object): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) if (v !== undefined) params[k] = toValue(v);
  return params;
}

type RunFields = Pick<LeafStepDoc, 'dependsOn' | 'when' | 'retry' | 'timeoutSeconds' | 'continueOn'>;
function runFields(run: RunOptions = {}): RunFields {
  const fields: RunFields = {};
  if (run.dependsOn?.length) fields.dependsOn = run.dependsOn.map((s) => s.id);
  if (run.when) fields.when = run.when;
  if (run.retry !== undefined) fields.retry = run.retry;
  if (run.timeoutSeconds !== undefined) fields.timeoutSeconds = run.timeoutSeconds;
  if (run.continueOn) fields.continueOn = run.continueOn;
  return fields;
}

/** Adds steps to one DAG: the pipeline's, or a forEach branch. */
export class StepsBuilder {
  constructor(protected readonly steps: StepDoc[]) {}

  private image(op: ImageStepDoc['op'], id: string, spec: object, run?: RunOptions): void {
    const step: ImageStepDoc = { id, op, params: toParams(spec), ...runFields(run) };
    this.steps.push(step);
  }

  resize(id: string, spec: ResizeSpec, run?: RunOptions): ImageStep {
    this.image('resize', id, spec, run);
    return new ImageStep(id);
  }

  filter(id: string, spec: FilterSpec, run?: RunOptions): ImageStep {
    this.image('filter', id, spec, run);
    return new ImageStep(id);
  }

  /** Without drawBoxes, `.image` is the input image passed on unchanged; with it, the annotated copy. */
  detect(id: string, spec: DetectSpec, run?: RunOptions): DetectStep {
    this.image('detect', id, spec, run);
    return new DetectStep(id);
  }

  /** Escape hatch: any other HTTP endpoint. Succeeds on 2xx; its result is the response body. */
  http(id: string, spec: HttpSpec, run?: RunOptions): HttpStep {
    const params: HttpStepDoc['params'] = { url: spec.url };
    if (spec.method) params.method = spec.method;
    if (spec.body) params.body = toParams(spec.body);
    this.steps.push({ id, op: 'http', params, ...runFields(run) });
    return new HttpStep(id);
  }
}

export class PipelineBuilder extends StepsBuilder {
  readonly outputs: Record<string, string> = {};

  constructor(steps: StepDoc[]) {
    super(steps);
  }

  /**
   * One branch per key of an objectKeys parameter, run in parallel. The body gets the branch's
   * image and returns the step whose result each branch contributes to the gathered JSON array.
   */
  forEach(
    id: string,
    over: ImageListRef,
    body: (branch: StepsBuilder, image: ImageRef) => StepHandle,
    run: Pick<RunOptions, 'dependsOn' | 'continueOn'> = {},
  ): ForEachStep {
    const inner: StepDoc[] = [];
    const gathered = body(new StepsBuilder(inner), new ImageRef({ $item: true }));
    const leaves = inner.filter((s): s is LeafStepDoc => s.op !== 'forEach');
    const doc: ForEachDoc = { id, op: 'forEach', over: over.toValue(), steps: leaves, gather: gathered.id };
    if (run.dependsOn?.length) doc.dependsOn = run.dependsOn.map((s) => s.id);
    if (run.continueOn) doc.continueOn = run.continueOn;
    this.steps.push(doc);
    return new ForEachStep(id);
  }

  /** Expose a step's result (the gateway's JSON answer) as a workflow output parameter. */
  output(name: string, step: StepHandle): void {
    this.outputs[name] = step.id;
  }
}

export interface PipelineDefinition<P extends ParamSpecs> extends PipelineOptions {
  /** DNS-1123 name: the WorkflowTemplate's name. */
  readonly name: string;
  readonly description?: string;
  readonly params?: P;
}

/** Define a pipeline in code. The body declares steps in order; data passed between them makes the DAG. */
export function definePipeline<P extends ParamSpecs = Record<never, never>>(
  definition: PipelineDefinition<P>,
  body: (p: PipelineBuilder, params: ParamRefs<P>) => void,
): Pipeline {
  const { name, description, params = {} as P, ...options } = definition;
  const steps: StepDoc[] = [];
  const builder = new PipelineBuilder(steps);
  const refs = Object.fromEntries(Object.entries(params).map(([k, spec]) => [k, spec.toRef(k)])) as ParamRefs<P>;
  body(builder, refs);
  const doc: PipelineDocument = { name, steps };
  if (description) doc.description = description;
  if (Object.keys(params).length)
    doc.params = Object.fromEntries(Object.entries(params).map(([k, spec]) => [k, spec.decl]));
  if (Object.keys(builder.outputs).length) doc.outputs = builder.outputs;
  const cleanOptions = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  if (Object.keys(cleanOptions).length) doc.options = cleanOptions as PipelineOptions;
  return Pipeline.fromDocument(doc);
}
