// The compiler: a checked pipeline document → an Argo WorkflowTemplate whose DAG tasks are HTTP
// calls to the gateway. One http template per operation kind (parameterised by its body) is
// shared by all tasks of that kind; tasks differ only in their arguments.
import type {
  DagTask,
  HttpHeader,
  Parameter,
  RetryStrategy,
  Template,
  WorkflowTemplate,
} from './argo-types.js';
import { MAX_DAG_TASKS, MAX_TEMPLATES } from './checks.js';
import {
  isItemValue,
  isParamValue,
  isStepValue,
  type ImageStepDoc,
  type LeafStepDoc,
  type PipelineDocument,
  type Retry,
} from './document.js';
import { PipelineError } from './errors.js';
import {
  extractJson,
  INPUT_IMAGE_JSON,
  paramJson,
  gatheredResults,
  LOOP_ITEM,
  RESULT_PATHS,
  RETRY_ON_TRANSIENT,
  taskResult,
  templateInput,
  whenExpression,
  workflowParam,
  WORKFLOW_NAME,
  WORKFLOW_STATUS,
  type ConditionContext,
} from './expressions.js';
import { bareTag, quotedTag, renderBody, type Tag } from './json-body.js';
import { planPipeline, upstreamOf, type PlannedDag, type PlannedTask } from './plan.js';
import { resolveProps, type CompileProps, type ResolvedProps } from './props.js';

export const API_VERSION = 'argoproj.io/v1alpha1';
export const ENTRYPOINT = 'main';
export const EXIT_TEMPLATE = 'on-exit';
/** Annotation saying whether fusion was on, and which steps each fused task runs. */
export const FUSION_ANNOTATION = 'imageflow.dev/fusion';
export const FUSED_TASKS_ANNOTATION = 'imageflow.dev/fused-tasks';
export const PIPELINE_LABEL = 'imageflow.dev/pipeline';

export const DEFAULT_RETRY: Retry = { limit: 3, backoff: { duration: '2s', factor: 2, maxDuration: '1m' } };
/** Seconds per gateway call; a fused task gets the sum of its steps'. */
export const DEFAULT_TIMEOUT_SECONDS: Record<LeafStepDoc['op'], number> = { resize: 30, filter: 30, detect: 60, http: 30 };
const GATEWAY_PATHS = { resize: '/v1/resize', filter: '/v1/filter', detect: '/v1/detect', pipeline: '/v1/pipeline' } as const;

/** Shares one template among all tasks that need the same one; names it after its kind. */
class TemplateRegistry {
  readonly templates: Template[] = [];
  private readonly byContent = new Map<string, string>();

  add(baseName: string, body: Omit<Template, 'name'>): string {
    const key = JSON.stringify(body);
    const known = this.byContent.get(key);
    if (known) return known;
    const taken = new Set(this.templates.map((t) => t.name));
    let name = baseName;
    for (let i = 2; taken.has(name); i++) name = `${baseName}-${i}`;
    this.templates.push({ name, ...body });
    this.byContent.set(key, name);
    return name;
  }
}

interface ImageSource {
  key: Tag;
  bucket?: unknown;
}

class Compiler {
  private readonly registry = new TemplateRegistry();
  private readonly fused: Record<string, string[]> = {};
  private readonly params;
  private readonly options;

  constructor(
    private readonly doc: PipelineDocument,
    private readonly props: ResolvedProps,
  ) {
    this.params = doc.params ?? {};
    this.options = doc.options ?? {};
  }

  private fail(step: string | undefined, field: string | undefined, detail: string): never {
    throw new PipelineError(this.doc.name, step, field, detail);
  }

  compile(): WorkflowTemplate {
    const dag = planPipeline(this.doc);
    const main: Template = { name: ENTRYPOINT, dag: { tasks: [] } };
    this.registry.templates.push(main);
    main.dag!.tasks = this.renderDag(dag);
    if (this.options.failFast !== undefined) main.dag!.failFast = this.options.failFast;
    const outputs = this.renderOutputs(dag);
    if (outputs.length) main.outputs = { parameters: outputs };

    // Key order follows how the YAML reads: what it takes, how it runs, then the templates.
    const spec = {
      entrypoint: ENTRYPOINT,
      serviceAccountName: this.options.serviceAccountName ?? this.props.serviceAccountName,
    } as WorkflowTemplate['spec'];
    const args = this.renderArguments();
    if (args.length) spec.arguments = { parameters: args };
    if (this.options.parallelism) spec.parallelism = this.options.parallelism;
    if (this.options.onExit) {
      spec.onExit = EXIT_TEMPLATE;
      this.registry.templates.push(this.exitTemplate());
    }
    if (this.options.ttl) spec.ttlStrategy = this.options.ttl;
    if (this.options.podGC) spec.podGC = { strategy: this.options.podGC };
    spec.workflowMetadata = { labels: { [PIPELINE_LABEL]: this.doc.name, ...this.options.labels } };
    // Reads top to bottom: the DAGs first, then the shared HTTP templates they call.
    spec.templates = [...this.registry.templates].sort((a, b) => Number(!a.dag) - Number(!b.dag));

    if (this.registry.templates.length > MAX_TEMPLATES)
      this.fail(undefined, undefined, `compiles to ${this.registry.templates.length} templates; Argo allows at most ${MAX_TEMPLATES}`);

    const annotations: Record<string, string> = { ...this.options.annotations };
    if (this.doc.description) annotations['workflows.argoproj.io/description'] = this.doc.description;
    annotations[FUSION_ANNOTATION] = this.fusionOn ? 'enabled' : 'disabled';
    if (Object.keys(this.fused).length) annotations[FUSED_TASKS_ANNOTATION] = JSON.stringify(this.fused);
    return {
      apiVersion: API_VERSION,
      kind: 'WorkflowTemplate',
      metadata: {
        name: this.doc.name,
        namespace: this.props.namespace,
        labels: { 'app.kubernetes.io/part-of': 'imageflow', [PIPELINE_LABEL]: this.doc.name, ...this.options.labels },
        annotations,
      },
      spec,
    };
  }

  private get fusionOn(): boolean {
    return this.options.fusion ?? true;
  }

  private renderArguments(): Parameter[] {
    return Object.entries(this.params).map(([name, decl]) => {
      const p: Parameter = { name };
      if (decl.default !== undefined)
        p.value = typeof decl.default === 'string' ? decl.default : JSON.stringify(decl.default);
      if (decl.type === 'enum') p.enum = decl.values;
      if (decl.type === 'boolean') p.enum = ['true', 'false'];
      const kind = decl.type === 'objectKeys' ? 'JSON list of object keys' : decl.type;
      p.description = decl.description ? `${decl.description} (${kind})` : kind;
      return p;
    });
  }

  private renderOutputs(dag: PlannedDag): Parameter[] {
    return Object.entries(this.doc.outputs ?? {}).map(([name, stepId]) => {
      const task = dag.taskOf.get(stepId)!;
      const parameter = task.forEach ? gatheredResults(task.name) : taskResult(task.name);
      const conditional = task.steps.some((s) => s.when);
      // A task skipped by its `when` has no result; the output is then empty instead of an error.
      return { name, globalName: name, valueFrom: conditional ? { parameter, default: '' } : { parameter } };
    });
  }

  private renderDag(dag: PlannedDag): DagTask[] {
    const names = new Set<string>();
    const tasks = dag.tasks.map((task) => {
      if (names.has(task.name))
        this.fail(task.steps[0]?.id ?? task.name, 'id', `the fused task "${task.name}" has the same name as another step; rename one of them`);
      names.add(task.name);
      return task.forEach ? this.renderForEach(task, dag) : this.renderLeaf(task, dag);
    });
    if (tasks.length > MAX_DAG_TASKS)
      this.fail(undefined, undefined, `has ${tasks.length} tasks in one DAG; Argo allows at most ${MAX_DAG_TASKS} (group steps with forEach or enable fusion)`);
    return tasks;
  }

  private dependencies(task: PlannedTask, dag: PlannedDag): string[] {
    const ids = task.forEach ? upstreamOf(task.forEach.doc) : task.steps.flatMap(upstreamOf);
    const deps = ids.map((id) => dag.taskOf.get(id)!.name).filter((n) => n !== task.name);
    return [...new Set(deps)];
  }

  private withCommon(dagTask: DagTask, task: PlannedTask, dag: PlannedDag): DagTask {
    const deps = this.dependencies(task, dag);
    if (deps.length) dagTask.dependencies = deps;
    const head = task.steps[0];
    if (head?.when) dagTask.when = whenExpression(head.when, this.conditionContext(dag));
    const continueOn = task.forEach ? task.forEach.doc.continueOn : head?.continueOn;
    if (continueOn) dagTask.continueOn = continueOn;
    return dagTask;
  }

  private renderForEach(task: PlannedTask, dag: PlannedDag): DagTask {
    const { doc, dag: inner } = task.forEach!;
    const gather = inner.taskOf.get(doc.gather)!;
    const template = this.registry.add(`for-each-${doc.id}`, {
      inputs: { parameters: [{ name: 'image' }] },
      dag: { tasks: this.renderDag(inner) },
      outputs: { parameters: [{ name: 'result', valueFrom: { parameter: taskResult(gather.name) } }] },
    });
    return this.withCommon(
      {
        name: task.name,
        template,
        arguments: { parameters: [{ name: 'image', value: LOOP_ITEM }] },
        withParam: workflowParam(doc.over.$param),
      },
      task,
      dag,
    );
  }

  private renderLeaf(task: PlannedTask, dag: PlannedDag): DagTask {
    const [head] = task.steps;
    const last = task.steps[task.steps.length - 1];
    const retry = head.retry ?? this.options.retry ?? DEFAULT_RETRY;
    const timeout = task.steps.reduce(
      (sum, s) => sum + (s.timeoutSeconds ?? this.options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS[s.op]),
      0,
    );
    if (head.op === 'http') {
      const gateway = head.params.url.startsWith('/');
      const method = head.params.method ?? 'POST';
      const hasBody = head.params.body !== undefined;
      const template = this.registry.add(`http-${method.toLowerCase()}`, {
        inputs: { parameters: [{ name: 'url' }, ...(hasBody ? [{ name: 'body' }] : [])] },
        ...this.httpTemplate(templateInput('url'), method, hasBody ? templateInput('body') : undefined, timeout, retry, gateway),
      });
      const args: Parameter[] = [{ name: 'url', value: gateway ? this.props.gatewayUrl + head.params.url : head.params.url }];
      if (hasBody) args.push({ name: 'body', value: renderBody(this.renderValue(head.params.body, dag)) });
      return this.withCommon({ name: task.name, template, arguments: { parameters: args } }, task, dag);
    }

    const imageSteps = task.steps as ImageStepDoc[];
    const kind = imageSteps.length > 1 ? 'pipeline' : (head.op as ImageStepDoc['op']);
    if (imageSteps.length > 1) this.fused[task.name] = imageSteps.map((s) => s.id);
    const template = this.registry.add(kind, {
      inputs: { parameters: [{ name: 'body' }] },
      ...this.httpTemplate(this.props.gatewayUrl + GATEWAY_PATHS[kind], 'POST', templateInput('body'), timeout, retry, true),
    });
    const source = this.imageSource(imageSteps[0].params.input, dag);
    const body: Record<string, unknown> = { input: this.inputObject(source) };
    if (imageSteps.length > 1) body.steps = imageSteps.map((s) => ({ op: s.op, ...this.renderOptions(s, dag) }));
    else Object.assign(body, this.renderOptions(head as ImageStepDoc, dag));
    const output = (last as ImageStepDoc).params.output;
    if (output !== undefined) body.output = this.renderValue(output, dag);
    return this.withCommon(
      { name: task.name, template, arguments: { parameters: [{ name: 'body', value: renderBody(body) }] } },
      task,
      dag,
    );
  }

  private httpTemplate(
    url: string,
    method: string,
    body: string | undefined,
    timeoutSeconds: number,
    retry: Retry | false,
    gateway: boolean,
  ): Omit<Template, 'name' | 'inputs'> {
    const headers: HttpHeader[] = [{ name: 'Content-Type', value: 'application/json' }];
    const key = this.props.apiKey;
    if (gateway && key) headers.push({ name: key.header, valueFrom: { secretKeyRef: { name: key.secretName, key: key.key } } });
    // No successCondition: Argo's default (2xx) keeps the status code in the failure message,
    // which the retry expression reads (see expressions.ts).
    const template: Omit<Template, 'name' | 'inputs'> = {
      http: { url, method, headers, ...(body !== undefined ? { body } : {}), timeoutSeconds },
    };
    const strategy = retryStrategy(retry);
    if (strategy) template.retryStrategy = strategy;
    const sem = this.options.semaphore;
    if (gateway && sem) template.synchronization = { semaphores: [{ configMapKeyRef: { name: sem.configMap, key: sem.key } }] };
    return template;
  }

  private exitTemplate(): Template {
    const exit = this.options.onExit!;
    const url = typeof exit.url === 'string' ? exit.url : workflowParam(exit.url.$param);
    const gateway = url.startsWith('/');
    const body = renderBody({
      workflow: quotedTag(WORKFLOW_NAME),
      status: quotedTag(WORKFLOW_STATUS),
      ...(this.renderValue(exit.body ?? {}, { tasks: [], taskOf: new Map() }) as object),
    });
    const retry = this.options.retry ?? DEFAULT_RETRY;
    return {
      name: EXIT_TEMPLATE,
      ...this.httpTemplate(gateway ? this.props.gatewayUrl + url : url, 'POST', body, DEFAULT_TIMEOUT_SECONDS.http, retry, gateway),
    };
  }

  /** The image a value names, as the gateway's `input` (key and, when known, bucket). */
  private imageSource(value: unknown, dag: PlannedDag): ImageSource {
    if (isParamValue(value)) return { key: bareTag(paramJson(value.$param)) };
    if (isItemValue(value)) return { key: bareTag(INPUT_IMAGE_JSON) };
    if (!isStepValue(value)) this.fail(undefined, 'input', 'is not an image');
    const task = dag.taskOf.get(value.$step)!;
    const step = task.steps.find((s) => s.id === value.$step) as ImageStepDoc;
    // An unfused detect without drawBoxes stores nothing: its image is its input, unchanged.
    if (step.op === 'detect' && step.params.drawBoxes !== true && task.steps.length === 1)
      return this.imageSource(step.params.input, dag);
    const last = task.steps[task.steps.length - 1] as ImageStepDoc;
    const outBucket = (last.params.output as Record<string, unknown> | undefined)?.bucket;
    // Outputs land in the input's bucket unless told otherwise; carry the bucket along statically.
    const head = task.steps[0] as ImageStepDoc;
    const bucket = outBucket !== undefined ? this.renderValue(outBucket, dag) : this.imageSource(head.params.input, dag).bucket;
    return { key: bareTag(extractJson(task.name, RESULT_PATHS.outputKey)), ...(bucket !== undefined ? { bucket } : {}) };
  }

  private inputObject(source: ImageSource): Record<string, unknown> {
    return source.bucket !== undefined ? { bucket: source.bucket, key: source.key } : { key: source.key };
  }

  private renderOptions(step: ImageStepDoc, dag: PlannedDag): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(step.params)) if (k !== 'input' && k !== 'output') out[k] = this.renderValue(v, dag);
    return out;
  }

  /** A document value as body JSON: parameters and images become template tags. */
  private renderValue(value: unknown, dag: PlannedDag): unknown {
    if (isParamValue(value)) {
      const type = this.params[value.$param]?.type;
      // Numbers, booleans and lists are JSON as given; any other value is text to escape.
      return type === 'number' || type === 'boolean' || type === 'objectKeys' ? bareTag(workflowParam(value.$param)) : bareTag(paramJson(value.$param));
    }
    if (isItemValue(value) || isStepValue(value)) return this.imageSource(value, dag).key;
    if (Array.isArray(value)) return value.map((v) => this.renderValue(v, dag));
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.renderValue(v, dag)]));
    return value;
  }

  private conditionContext(dag: PlannedDag): ConditionContext {
    return {
      detectionsOf: (stepId) => {
        const task = dag.taskOf.get(stepId)!;
        const index = task.steps.findIndex((s) => s.id === stepId);
        const path = task.steps.length > 1 ? RESULT_PATHS.chainDetections(index) : RESULT_PATHS.detections;
        return { task: task.name, path };
      },
      paramType: (name) => this.params[name]?.type,
    };
  }
}

export function retryStrategy(retry: Retry | false): RetryStrategy | undefined {
  if (retry === false || retry.limit === 0) return undefined;
  const strategy: RetryStrategy = { limit: String(retry.limit), retryPolicy: 'Always', expression: RETRY_ON_TRANSIENT };
  if (retry.backoff) {
    const { duration, factor, maxDuration } = retry.backoff;
    strategy.backoff = { duration };
    if (factor !== undefined) strategy.backoff.factor = String(factor);
    if (maxDuration !== undefined) strategy.backoff.maxDuration = maxDuration;
  }
  return strategy;
}

/** Compile a checked document. Prefer `Pipeline.compile`. */
export function compileDocument(doc: PipelineDocument, props: CompileProps = {}): WorkflowTemplate {
  const resolved = resolveProps(props);
  const effective =
    resolved.fusion === undefined ? doc : { ...doc, options: { ...doc.options, fusion: resolved.fusion } };
  return new Compiler(effective, resolved).compile();
}
