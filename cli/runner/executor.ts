// The local Argo executor: runs a WorkflowTemplate object the way Argo's controller would for the
// subset the compiler emits: the DAG entrypoint (dependencies, `when`, withParam/withItems fan-out
// and fan-in, continueOn, failFast), HTTP templates with retryStrategy, spec.parallelism and
// semaphores, template outputs, workflow outputs, and the onExit handler. It records nodes much like
// Argo's status.nodes so the CLI can print them.
import { randomBytes } from 'node:crypto';
import { UnsupportedError } from './errors.js';
import { MissingValueError } from './expr.js';
import { callHttp, DEFAULT_HTTP_TIMEOUT_SECONDS } from './http-call.js';
import { Limiter, UNLIMITED } from './limiter.js';
import { RetryPolicy, type Attempt } from './retry.js';
import { assertSupported } from './supported-fields.js';
import { substitute, type TagScope } from './tags.js';
import type { DagTaskSpec, NodePhase, NodeType, TemplateSpec, WorkflowTemplateObject } from './types.js';

export interface NodeStatus {
  readonly id: string;
  /** Full name, e.g. `wf.per-image(0:a.jpg).thumb-to-gray`. */
  readonly name: string;
  readonly displayName: string;
  readonly type: NodeType;
  readonly templateName?: string;
  readonly parent?: string;
  phase: NodePhase;
  message?: string;
  startedAt?: number;
  finishedAt?: number;
  /** outputs.result (an HTTP node's response body). */
  result?: string;
  /** outputs.parameters. */
  parameters?: Record<string, string>;
  attempts: number;
  /** The last HTTP status code seen, when any. */
  statusCode?: number;
}

export type WorkflowPhase = 'Succeeded' | 'Failed' | 'Error';

export interface WorkflowRun {
  readonly name: string;
  readonly phase: WorkflowPhase;
  readonly message?: string;
  readonly nodes: readonly NodeStatus[];
  /** Workflow outputs (the entrypoint's output parameters, by globalName). */
  readonly outputs: Readonly<Record<string, string>>;
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface RunOptions {
  /** Values for spec.arguments.parameters; the others keep their defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
  /** Secret values for headers' secretKeyRef, as `secret-name/key` → value. */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Limits for synchronization semaphores, as `configmap-name/key` → N. @default no limit */
  readonly semaphores?: Readonly<Record<string, number>>;
  /** Called whenever a node changes phase. */
  readonly onNode?: (node: NodeStatus, run: { readonly name: string }) => void;
  /** @default `<metadata.name>-<random>` like generateName */
  readonly workflowName?: string;
}

/** A usage problem: parameters or secrets the run needs and did not get. */
export class RunInputError extends Error {}

interface DagScope {
  readonly inputs: Record<string, string>;
  readonly item?: string;
  readonly tasks: Map<string, NodeStatus>;
}

const FULFILLED: readonly NodePhase[] = ['Succeeded', 'Failed', 'Error', 'Skipped', 'Omitted'];

class WorkflowExecution {
  readonly name: string;
  private readonly templates = new Map<string, { spec: TemplateSpec; index: number }>();
  private readonly params: Record<string, string> = {};
  private readonly nodes: NodeStatus[] = [];
  private readonly parallelism: Limiter;
  private readonly semaphores = new Map<string, Limiter>();
  private status?: WorkflowPhase;

  constructor(
    private readonly wt: WorkflowTemplateObject,
    private readonly options: RunOptions,
  ) {
    assertSupported(wt);
    this.name = options.workflowName ?? `${wt.metadata.name ?? 'workflow'}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    wt.spec.templates.forEach((spec, index) => this.templates.set(spec.name, { spec, index }));
    const declared = wt.spec.arguments?.parameters ?? [];
    const given = options.parameters ?? {};
    for (const name of Object.keys(given))
      if (!declared.some((p) => p.name === name))
        throw new RunInputError(`-p ${name}: not a parameter of ${wt.metadata.name}; it takes: ${declared.map((p) => p.name).join(', ') || 'none'}`);
    for (const p of declared) {
      const value = given[p.name] ?? p.value;
      if (value === undefined) throw new RunInputError(`parameter "${p.name}" has no default; pass -p ${p.name}=VALUE`);
      const allowed = (p as { enum?: string[] }).enum;
      if (allowed && !allowed.includes(value))
        throw new RunInputError(`-p ${p.name}=${value}: must be one of ${allowed.join(', ')}`);
      this.params[p.name] = value;
    }
    this.parallelism = wt.spec.parallelism ? new Limiter(wt.spec.parallelism) : UNLIMITED;
  }

  async run(): Promise<WorkflowRun> {
    const startedAt = Date.now();
    const entry = this.wt.spec.entrypoint;
    const root = await this.executeTemplate(entry, {}, this.name, this.name, undefined, 'spec.entrypoint');
    let phase: WorkflowPhase = root.phase === 'Succeeded' ? 'Succeeded' : root.phase === 'Error' ? 'Error' : 'Failed';
    let message = phase === 'Succeeded' ? undefined : root.message;
    this.status = phase;
    if (this.wt.spec.onExit) {
      const exit = await this.executeTemplate(this.wt.spec.onExit, {}, `${this.name}.onExit`, 'onExit', undefined, 'spec.onExit');
      // Argo: when the workflow succeeded but its exit handler did not, the workflow is not a success.
      if (phase === 'Succeeded' && exit.phase !== 'Succeeded') {
        phase = exit.phase === 'Error' ? 'Error' : 'Failed';
        message = exit.message;
      }
    }
    const outputs: Record<string, string> = {};
    const entryOutputs = this.templates.get(entry)?.spec.outputs?.parameters ?? [];
    for (const p of entryOutputs) {
      const value = root.parameters?.[p.name];
      if (value !== undefined) outputs[p.globalName ?? p.name] = value;
    }
    return { name: this.name, phase, message, nodes: this.nodes, outputs, startedAt, finishedAt: Date.now() };
  }

  private addNode(name: string, displayName: string, type: NodeType, templateName: string | undefined, parent: string | undefined): NodeStatus {
    const node: NodeStatus = { id: `${this.name}-${this.nodes.length}`, name, displayName, type, templateName, parent, phase: 'Pending', attempts: 0 };
    this.nodes.push(node);
    return node;
  }

  private mark(node: NodeStatus, phase: NodePhase, message?: string): NodeStatus {
    node.phase = phase;
    if (message !== undefined) node.message = message;
    if (phase === 'Running' && node.startedAt === undefined) node.startedAt = Date.now();
    if (FULFILLED.includes(phase)) node.finishedAt = Date.now();
    this.options.onNode?.(node, this);
    return node;
  }

  private template(name: string, field: string): { spec: TemplateSpec; index: number } {
    const t = this.templates.get(name);
    if (!t) throw new UnsupportedError(field, `template "${name}" is not defined in spec.templates`);
    return t;
  }

  private workflowScope(): { simple: Map<string, string>; workflow: Record<string, unknown> } {
    const simple = new Map<string, string>();
    for (const [k, v] of Object.entries(this.params)) simple.set(`workflow.parameters.${k}`, v);
    simple.set('workflow.name', this.name);
    const workflow: Record<string, unknown> = { parameters: { ...this.params }, name: this.name };
    if (this.status) {
      simple.set('workflow.status', this.status);
      workflow.status = this.status;
    }
    return { simple, workflow };
  }

  /** The tags visible inside a template invoked with `inputs` (and, in a DAG, its tasks so far). */
  private scope(dag: DagScope): TagScope {
    const { simple, workflow } = this.workflowScope();
    for (const [k, v] of Object.entries(dag.inputs)) simple.set(`inputs.parameters.${k}`, v);
    if (dag.item !== undefined) simple.set('item', dag.item);
    const tasks: Record<string, unknown> = {};
    for (const [name, node] of dag.tasks) {
      const outputs: Record<string, unknown> = {};
      if (node.result !== undefined) {
        simple.set(`tasks.${name}.outputs.result`, node.result);
        outputs.result = node.result;
      }
      if (node.parameters) {
        for (const [k, v] of Object.entries(node.parameters)) simple.set(`tasks.${name}.outputs.parameters.${k}`, v);
        outputs.parameters = { ...node.parameters };
      }
      tasks[name] = { outputs, status: node.phase };
    }
    const expr: Record<string, unknown> = { workflow, tasks, inputs: { parameters: { ...dag.inputs } } };
    if (dag.item !== undefined) expr.item = dag.item;
    return { simple, expr };
  }

  private async executeTemplate(
    name: string,
    args: Record<string, string>,
    nodeName: string,
    displayName: string,
    parent: string | undefined,
    field: string,
  ): Promise<NodeStatus> {
    const { spec, index } = this.template(name, field);
    const at = `spec.templates[${index}]`;
    const inputs: Record<string, string> = {};
    for (const p of spec.inputs?.parameters ?? []) {
      const v = args[p.name] ?? p.value ?? p.default;
      if (v === undefined) throw new UnsupportedError(`${at}.inputs.parameters`, `input "${p.name}" of template "${name}" was not supplied`);
      inputs[p.name] = v;
    }
    if (spec.http) return this.executeHttp(spec, at, inputs, nodeName, displayName, parent);
    return this.executeDag(spec, at, inputs, nodeName, displayName, parent);
  }

  // ── HTTP templates ─────────────────────────────────────────────────────────────────────────

  private async executeHttp(
    spec: TemplateSpec,
    at: string,
    inputs: Record<string, string>,
    nodeName: string,
    displayName: string,
    parent: string | undefined,
  ): Promise<NodeStatus> {
    const node = this.addNode(nodeName, displayName, spec.retryStrategy ? 'Retry' : 'HTTP', spec.name, parent);
    const scope = this.scope({ inputs, tasks: new Map() });
    const http = spec.http!;
    let request;
    try {
      const headers: Record<string, string> = {};
      for (const [i, h] of (http.headers ?? []).entries()) {
        if (h.valueFrom) {
          const ref = `${h.valueFrom.secretKeyRef.name}/${h.valueFrom.secretKeyRef.key}`;
          const secret = this.options.secrets?.[ref];
          if (secret === undefined)
            throw new RunInputError(`${at}.http.headers[${i}] reads secret ${ref}; pass it with --secret ${ref}=VALUE`);
          headers[h.name] = secret;
        } else headers[h.name] = substitute(h.value ?? '', scope, `${at}.http.headers[${i}].value`);
      }
      request = {
        url: substitute(http.url, scope, `${at}.http.url`),
        method: (http.method ?? 'GET').toUpperCase(),
        headers,
        body: http.body === undefined ? undefined : substitute(http.body, scope, `${at}.http.body`),
        timeoutSeconds: Number(http.timeoutSeconds ?? DEFAULT_HTTP_TIMEOUT_SECONDS),
        successCondition: http.successCondition,
        field: `${at}.http`,
      };
    } catch (err) {
      if (err instanceof MissingValueError) return this.mark(node, 'Error', err.message);
      throw err;
    }
    const policy = new RetryPolicy(spec.retryStrategy, `${at}.retryStrategy`);
    const semaphores = (spec.synchronization?.semaphores ?? []).map((s) => this.semaphore(`${s.configMapKeyRef.name}/${s.configMapKeyRef.key}`));
    const attempts: Attempt[] = [];
    this.mark(node, 'Running');
    for (;;) {
      const startedAt = Date.now();
      // Inside every semaphore the template names, within the workflow's parallelism.
      const call = semaphores.reduce((inner, s) => () => s.run(inner), () => callHttp(request));
      const outcome = await this.parallelism.run(call);
      node.attempts++;
      node.statusCode = outcome.statusCode;
      if (outcome.ok) {
        node.result = outcome.body;
        return this.mark(node, 'Succeeded', '');
      }
      attempts.push({ phase: 'Failed', message: outcome.message, startedAt, finishedAt: Date.now() });
      const decision = policy.decide(attempts);
      if (!decision.retry) {
        const why = decision.message === outcome.message ? outcome.message : `${decision.message} (last attempt: ${outcome.message})`;
        return this.mark(node, 'Failed', why);
      }
      this.mark(node, 'Running', `attempt ${attempts.length} failed: ${outcome.message}; retrying in ${(decision.waitMs / 1000).toFixed(1)}s`);
      await new Promise((r) => setTimeout(r, decision.waitMs));
    }
  }

  private semaphore(key: string): Limiter {
    let s = this.semaphores.get(key);
    if (!s) {
      const limit = this.options.semaphores?.[key];
      s = limit === undefined ? UNLIMITED : new Limiter(limit);
      this.semaphores.set(key, s);
    }
    return s;
  }

  // ── DAG templates ──────────────────────────────────────────────────────────────────────────

  private async executeDag(
    spec: TemplateSpec,
    at: string,
    inputs: Record<string, string>,
    nodeName: string,
    displayName: string,
    parent: string | undefined,
    item?: string,
  ): Promise<NodeStatus> {
    const node = this.mark(this.addNode(nodeName, displayName, 'DAG', spec.name, parent), 'Running');
    const tasks = spec.dag!.tasks;
    const failFast = spec.dag!.failFast ?? true;
    const byName = new Map(tasks.map((t, i) => [t.name, { task: t, index: i }]));
    for (const [i, t] of tasks.entries())
      for (const d of t.dependencies ?? [])
        if (!byName.has(d)) throw new UnsupportedError(`${at}.dag.tasks[${i}].dependencies`, `task "${d}" does not exist`);
    const done = new Map<string, NodeStatus>();
    const running = new Map<string, Promise<void>>();
    const dagScope: DagScope = { inputs, item, tasks: done };
    let failedWithoutContinue: NodeStatus | undefined;

    const isFailure = (t: DagTaskSpec, n: NodeStatus) =>
      (n.phase === 'Failed' && !t.continueOn?.failed) || (n.phase === 'Error' && !t.continueOn?.error);

    for (;;) {
      let progressed = false;
      for (const [i, task] of tasks.entries()) {
        if (done.has(task.name) || running.has(task.name)) continue;
        const deps = (task.dependencies ?? []).map((d) => ({ spec: byName.get(d)!.task, node: done.get(d) }));
        if (deps.some((d) => !d.node)) continue;
        // `dependencies` means: each one Succeeded or Skipped, or Failed/Errored under continueOn.
        const blocked = deps.find((d) => d.node!.phase === 'Omitted' || isFailure(d.spec, d.node!));
        if (blocked) {
          const omitted = this.addNode(`${nodeName}.${task.name}`, task.name, 'Skipped', task.template, node.name);
          done.set(task.name, this.mark(omitted, 'Omitted', `omitted: depends on "${blocked.spec.name}" which ${blocked.node!.phase === 'Omitted' ? 'did not run' : 'failed'}`));
          progressed = true;
          continue;
        }
        // failFast: once a task has failed, no new task starts; running ones finish.
        if (failFast && failedWithoutContinue) continue;
        progressed = true;
        const p = this.executeTask(task, `${at}.dag.tasks[${i}]`, dagScope, nodeName, node.name).then((n) => {
          done.set(task.name, n);
          running.delete(task.name);
          if (isFailure(task, n)) failedWithoutContinue ??= n;
        });
        running.set(task.name, p);
      }
      if (running.size === 0 && !progressed) break;
      if (running.size > 0 && !progressed) await Promise.race(running.values());
    }

    const notStarted = tasks.filter((t) => !done.has(t.name));
    for (const t of notStarted) {
      const n = this.addNode(`${nodeName}.${t.name}`, t.name, 'Skipped', t.template, node.name);
      done.set(t.name, this.mark(n, 'Omitted', `not started: the DAG fails fast after "${failedWithoutContinue?.displayName}" failed`));
    }
    if (failedWithoutContinue) return this.mark(node, 'Failed', `child '${failedWithoutContinue.displayName}' failed`);
    try {
      node.parameters = this.outputParameters(spec, at, this.scope(dagScope));
    } catch (err) {
      if (err instanceof MissingValueError) return this.mark(node, 'Error', err.message);
      throw err;
    }
    return this.mark(node, 'Succeeded');
  }

  private outputParameters(spec: TemplateSpec, at: string, scope: TagScope): Record<string, string> | undefined {
    const out: Record<string, string> = {};
    for (const [i, p] of (spec.outputs?.parameters ?? []).entries()) {
      const field = `${at}.outputs.parameters[${i}].valueFrom.parameter`;
      const source = p.valueFrom?.parameter;
      if (source === undefined) {
        if (p.value !== undefined) out[p.name] = p.value;
        continue;
      }
      try {
        out[p.name] = substitute(source, scope, field);
      } catch (err) {
        if (err instanceof MissingValueError && p.valueFrom?.default !== undefined) out[p.name] = p.valueFrom.default;
        else throw err;
      }
    }
    return spec.outputs?.parameters?.length ? out : undefined;
  }

  private async executeTask(task: DagTaskSpec, at: string, dag: DagScope, parentName: string, parentNode: string): Promise<NodeStatus> {
    const name = `${parentName}.${task.name}`;
    const scope = this.scope(dag);
    if (task.when !== undefined) {
      let decided: string;
      try {
        decided = substitute(task.when, scope, `${at}.when`).trim();
      } catch (err) {
        if (!(err instanceof MissingValueError)) throw err;
        return this.mark(this.addNode(name, task.name, 'Skipped', task.template, parentNode), 'Error', err.message);
      }
      if (decided !== 'true' && decided !== 'false')
        throw new UnsupportedError(`${at}.when`, `evaluated to "${decided}"; the local runner only accepts conditions that give true or false`);
      if (decided === 'false')
        return this.mark(this.addNode(name, task.name, 'Skipped', task.template, parentNode), 'Skipped', `when '${task.when}' evaluated false`);
    }
    let items: unknown[] | undefined;
    if (task.withParam !== undefined) {
      const text = substitute(task.withParam, scope, `${at}.withParam`);
      try {
        items = JSON.parse(text);
      } catch {
        items = undefined;
      }
      if (!Array.isArray(items)) return this.mark(this.addNode(name, task.name, 'TaskGroup', task.template, parentNode), 'Error', `withParam value could not be parsed as a JSON list: ${text}`);
    } else if (task.withItems !== undefined) items = task.withItems;
    if (items === undefined) return this.invoke(task, at, scope, name, task.name, parentNode);
    return this.fanOut(task, at, dag, items, name, parentNode);
  }

  private async invoke(task: DagTaskSpec, at: string, scope: TagScope, name: string, displayName: string, parent: string): Promise<NodeStatus> {
    const args: Record<string, string> = {};
    for (const [i, p] of (task.arguments?.parameters ?? []).entries()) {
      try {
        args[p.name] = substitute(p.value ?? '', scope, `${at}.arguments.parameters[${i}].value`);
      } catch (err) {
        if (!(err instanceof MissingValueError)) throw err;
        return this.mark(this.addNode(name, displayName, 'HTTP', task.template, parent), 'Error', err.message);
      }
    }
    return this.executeTemplate(task.template, args, name, displayName, parent, `${at}.template`);
  }

  /** One child per item, all started together (within parallelism); outputs gathered as Argo does. */
  private async fanOut(task: DagTaskSpec, at: string, dag: DagScope, items: unknown[], name: string, parent: string): Promise<NodeStatus> {
    const group = this.mark(this.addNode(name, task.name, 'TaskGroup', task.template, parent), 'Running');
    if (items.length === 0) return this.mark(group, 'Skipped', 'Skipped, empty params');
    const children = await Promise.all(
      items.map((raw, i) => {
        const item = typeof raw === 'string' ? raw : JSON.stringify(raw);
        const scope = this.scope({ ...dag, item });
        const label = `${task.name}(${i}:${item})`;
        return this.invoke(task, at, scope, `${name}(${i})`, label, group.name);
      }),
    );
    // Argo aggregates each output parameter (and result) into a JSON list, parsing JSON values.
    const aggregate = (values: string[]) => JSON.stringify(values.map(parseMaybeJson));
    const paramNames = new Set(children.flatMap((c) => Object.keys(c.parameters ?? {})));
    if (paramNames.size)
      group.parameters = Object.fromEntries([...paramNames].map((p) => [p, aggregate(children.map((c) => c.parameters?.[p]).filter((v): v is string => v !== undefined))]));
    const results = children.map((c) => c.result).filter((r): r is string => r !== undefined);
    if (results.length) group.result = aggregate(results);
    const failed = children.find((c) => c.phase === 'Failed' || c.phase === 'Error');
    if (failed) return this.mark(group, failed.phase, `child '${failed.displayName}' ${failed.phase === 'Error' ? 'errored' : 'failed'}`);
    return this.mark(group, 'Succeeded');
  }
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Runs the WorkflowTemplate (or Workflow with an inline spec) and resolves when it has finished. */
export async function runWorkflow(template: WorkflowTemplateObject, options: RunOptions = {}): Promise<WorkflowRun> {
  return new WorkflowExecution(template, options).run();
}

