// A small executor of compiled templates for tests: it runs the DAG the way Argo would, but
// evaluates only the template forms listed in constructs/pipeline/expressions.ts (anything else
// throws), and sends each HTTP task to an in-process stand-in for the gateway. It proves the
// emitted bodies are valid gateway requests and that fused and unfused templates name the same
// objects. (The real local runner against the real stack is issue 7.)
import type { DagTask, Template, WorkflowTemplate } from '../../constructs/pipeline/index.js';

export interface GatewayCall {
  readonly task: string;
  readonly path: string;
  readonly body: any;
}
export type Gateway = (path: string, body: any) => { status: number; json: unknown };

export interface SimulationResult {
  /** Task name → parsed result, for tasks that ran (loop tasks: the gathered array). */
  readonly results: Record<string, any>;
  readonly skipped: string[];
  readonly calls: GatewayCall[];
  /** Workflow outputs (globalName → value). */
  readonly outputs: Record<string, string>;
}

interface Scope {
  readonly inputs: Record<string, string>;
  readonly tasks: Record<string, { result?: string; gathered?: string }>;
  readonly item?: string;
}

export function simulate(wt: WorkflowTemplate, gateway: Gateway, parameters: Record<string, string> = {}): SimulationResult {
  const params: Record<string, string> = {};
  for (const p of wt.spec.arguments?.parameters ?? []) if (p.value !== undefined) params[p.name] = p.value;
  Object.assign(params, parameters);
  const templates = new Map(wt.spec.templates.map((t) => [t.name, t]));
  const out: SimulationResult = { results: {}, skipped: [], calls: [], outputs: {} };

  const jsonpath = (scope: Scope, task: string, path: string): unknown => {
    const result = scope.tasks[task]?.result;
    if (result === undefined) throw new Error(`jsonpath on task "${task}", which has no result`);
    let value: any = JSON.parse(result);
    const m = /^\$((?:\.[A-Za-z]+|\[\d+\])+)$/.exec(path);
    if (!m) throw new Error(`unsupported jsonpath ${path}`);
    for (const [, key, index] of m[1].matchAll(/\.([A-Za-z]+)|\[(\d+)\]/g)) value = value?.[key ?? Number(index)];
    if (value === undefined) throw new Error(`jsonpath ${path} found nothing in task "${task}"`);
    return value;
  };

  /** Evaluate an expression of the documented forms by translating it to JavaScript. */
  const evaluate = (expr: string, scope: Scope): unknown => {
    // toJson(STR): Argo's toJson is Go's json.Marshal; for a string, JSON.stringify gives the same JSON value.
    const json = /^toJson\((.*)\)$/.exec(expr);
    if (json) return JSON.stringify(json[1] === 'inputs.parameters.image' ? scope.inputs.image : evaluate(json[1], scope));
    const js = expr
      .replace(/jsonpath\(tasks\['([^']+)'\]\.outputs\.result, '([^']+)'\)/g, (_m, t, p) => `__jp(${JSON.stringify(t)}, ${JSON.stringify(p)})`)
      .replace(/count\((__jp\([^)]*\)), \{(.*?)\}\)/g, (_m, list, pred: string) => {
        const body = pred
          .replace(/#\.label in (\[[^\]]*\])/g, '$1.includes(it.label)')
          .replace(/#\./g, 'it.');
        return `${list}.filter((it) => ${body}).length`;
      })
      .replace(/asFloat\(workflow\.parameters\['([^']+)'\]\)/g, (_m, n) => `Number(__p(${JSON.stringify(n)}))`)
      .replace(/workflow\.parameters\['([^']+)'\]/g, (_m, n) => `__p(${JSON.stringify(n)})`);
    if (/[#`;]|\b(?:tasks|workflow|inputs|lastRetry|sprig)\b/.test(js.replace(/'[^']*'|"[^"]*"/g, '')))
      throw new Error(`expression outside the documented forms: ${expr}`);
    const fn = new Function('__jp', '__p', `return (${js});`);
    return fn(
      (t: string, p: string) => jsonpath(scope, t, p),
      (n: string) => {
        if (!(n in params)) throw new Error(`no parameter ${n}`);
        return params[n];
      },
    );
  };

  const substitute = (text: string, scope: Scope): string =>
    // Like Argo (fasttemplate): a tag ends at the first "}}" after its "{{".
    text.replace(/\{\{(=?)(.*?)\}\}/g, (_m, isExpr: string, body: string) => {
      if (isExpr) return String(evaluate(body, scope));
      let m: RegExpExecArray | null;
      if ((m = /^workflow\.parameters\.(.+)$/.exec(body))) {
        if (!(m[1] in params)) throw new Error(`no parameter ${m[1]}`);
        return params[m[1]];
      }
      if ((m = /^inputs\.parameters\.(.+)$/.exec(body))) return scope.inputs[m[1]];
      if (body === 'item' && scope.item !== undefined) return scope.item;
      if ((m = /^tasks\.(.+)\.outputs\.result$/.exec(body))) return scope.tasks[m[1]]?.result ?? '';
      if ((m = /^tasks\.(.+)\.outputs\.parameters\.result$/.exec(body))) return scope.tasks[m[1]]?.gathered ?? '';
      throw new Error(`template tag outside the documented forms: {{${body}}}`);
    });

  const runHttp = (template: Template, inputs: Record<string, string>, taskName: string): string => {
    const scope: Scope = { inputs, tasks: {} };
    const url = new URL(substitute(template.http!.url, scope));
    const body = template.http!.body === undefined ? undefined : JSON.parse(substitute(template.http!.body, scope));
    out.calls.push({ task: taskName, path: url.pathname, body });
    const { status, json } = gateway(url.pathname, body);
    if (status < 200 || status >= 300) throw new Error(`task ${taskName}: gateway answered ${status}: ${JSON.stringify(json)}`);
    return JSON.stringify(json);
  };

  const runTemplate = (name: string, inputs: Record<string, string>, taskName: string): string | undefined => {
    const template = templates.get(name);
    if (!template) throw new Error(`no template ${name}`);
    if (template.http) return runHttp(template, inputs, taskName);
    if (!template.dag) throw new Error(`template ${name} is neither dag nor http`);
    const scope: Scope = { inputs, tasks: {} };
    runDag(template.dag.tasks, scope);
    const result = template.outputs?.parameters.find((p) => p.name === 'result');
    for (const p of template.outputs?.parameters ?? []) {
      if (!p.globalName) continue;
      try {
        out.outputs[p.globalName] = substitute(p.valueFrom!.parameter!, scope);
      } catch (e) {
        if (p.valueFrom?.default === undefined) throw e;
        out.outputs[p.globalName] = p.valueFrom.default;
      }
    }
    return result ? substitute(result.valueFrom!.parameter!, scope) : undefined;
  };

  const runDag = (tasks: readonly DagTask[], scope: Scope) => {
    const done = new Set<string>();
    while (done.size < tasks.length) {
      const ready = tasks.filter((t) => !done.has(t.name) && (t.dependencies ?? []).every((d) => done.has(d)));
      if (!ready.length) throw new Error('DAG is stuck: a dependency never completes');
      for (const task of ready) {
        done.add(task.name);
        if (task.when && substitute(task.when, scope) !== 'true') {
          out.skipped.push(task.name);
          scope.tasks[task.name] = {};
          continue;
        }
        const args = (items?: string) =>
          Object.fromEntries(
            (task.arguments?.parameters ?? []).map((p) => [p.name, substitute(p.value!, { ...scope, item: items })]),
          );
        if (task.withParam) {
          const items = JSON.parse(substitute(task.withParam, scope)) as unknown[];
          const results = items.map((item) => runTemplate(task.template, args(typeof item === 'string' ? item : JSON.stringify(item)), task.name));
          const gathered = JSON.stringify(results.map((r) => (r === undefined ? null : JSON.parse(r))));
          scope.tasks[task.name] = { gathered };
          out.results[task.name] = JSON.parse(gathered);
        } else {
          const result = runTemplate(task.template, args(), task.name);
          scope.tasks[task.name] = { result };
          if (result !== undefined) out.results[task.name] = JSON.parse(result);
        }
      }
    }
  };

  runTemplate(wt.spec.entrypoint, {}, wt.spec.entrypoint);
  return out;
}
