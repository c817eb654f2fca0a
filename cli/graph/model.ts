// The picture of a pipeline, read from its compiled WorkflowTemplate (what Argo will run):
// parameters, tasks (fused ones list their steps), fan-out groups, conditions, outputs and the
// exit handler. Renderers (mermaid.ts, svg.ts) only draw this model.
import { FUSED_TASKS_ANNOTATION } from '../../constructs/pipeline/index.js';
import type { DagTaskSpec, TemplateSpec, WorkflowTemplateObject } from '../runner/types.js';

export type GraphNodeKind = 'param' | 'task' | 'fused' | 'output' | 'exit';

export interface GraphNode {
  readonly id: string;
  readonly kind: GraphNodeKind;
  /** First line is the title; the others are details. */
  readonly lines: readonly string[];
  /** The fan-out group this node belongs to. */
  readonly group?: string;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly label?: string;
  /** Parameter inputs and outputs are drawn dashed; data flow between tasks solid. */
  readonly dashed?: boolean;
}

export interface GraphGroup {
  readonly id: string;
  readonly label: string;
}

export interface PipelineGraph {
  readonly title: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly groups: readonly GraphGroup[];
}

/** `{{=count(jsonpath(tasks['find-people'].outputs.result, '$.detections'), {...}) >= 1}}` → `count(find-people.detections, {...}) >= 1`. */
export function readableCondition(when: string): string {
  return when
    .replace(/^\{\{=?\s*/, '')
    .replace(/\s*\}\}$/, '')
    .replace(/jsonpath\(tasks\['([^']+)'\]\.outputs\.result,\s*'\$\.?([^']*)'\)/g, (_m, t: string, p: string) => (p ? `${t}.${p}` : t))
    .replace(/workflow\.parameters\['([^']+)'\]/g, '$1')
    .replace(/asFloat\(([^)]+)\)/g, '$1');
}

/** `{{workflow.parameters.x}}` → `{x}`, for labels. */
const readableTags = (text: string) => text.replace(/\{\{workflow\.parameters\.([A-Za-z0-9_-]+)\}\}/g, '{$1}');

const PARAM_REF = /\{\{workflow\.parameters\.([A-Za-z0-9_-]+)\}\}|workflow\.parameters\['([^']+)'\]/g;

function paramsUsed(text: string): string[] {
  return [...new Set([...text.matchAll(PARAM_REF)].map((m) => m[1] ?? m[2]))];
}

/** Option summary of a task body, e.g. `width=1024, fit=inside`. */
function bodyDetails(task: DagTaskSpec, template: TemplateSpec | undefined): string[] {
  const body = task.arguments?.parameters?.find((p) => p.name === 'body')?.value;
  if (!body) {
    const url = task.arguments?.parameters?.find((p) => p.name === 'url')?.value ?? template?.http?.url;
    return url ? [`${template?.http?.method ?? 'GET'} ${url}`] : [];
  }
  // Tags make the body invalid JSON; swap them for placeholders to read it.
  const tags: string[] = [];
  const json = body.replace(/\{\{[^}]*(\}[^}]+)*\}\}/g, (m) => {
    tags.push(m);
    return `"@tag${tags.length - 1}"`;
  }).replace(/""@tag(\d+)""/g, '"@tag$1"');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(json);
  } catch {
    return [];
  }
  const show = (v: unknown): string => {
    if (typeof v === 'string' && v.startsWith('@tag')) {
      const tag = tags[Number(v.slice(4))];
      const param = /workflow\.parameters(?:\.([A-Za-z0-9_-]+)|\['([^']+)'\])/.exec(tag);
      if (param) return `{${param[1] ?? param[2]}}`;
      const fromTask = /tasks\['([^']+)'\]/.exec(tag);
      if (fromTask) return `<${fromTask[1]}>`;
      if (tag.includes('inputs.parameters.image') || tag.includes('{{item}}')) return '<item>';
      return '…';
    }
    if (Array.isArray(v)) return v.map(show).join('+');
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('type' in o) return `${o.type}${o.intensity !== undefined ? `(${show(o.intensity)})` : ''}`;
      return Object.entries(o).map(([k, x]) => `${k}:${show(x)}`).join(' ');
    }
    return String(v);
  };
  const options = (o: Record<string, unknown>) =>
    Object.entries(o)
      .filter(([k]) => k !== 'input' && k !== 'op')
      .map(([k, v]) => `${k}=${show(v)}`)
      .join(', ');
  if (Array.isArray(parsed.steps)) {
    const lines = (parsed.steps as Record<string, unknown>[]).map((s) => `${s.op}: ${options(s)}`);
    if (parsed.output) lines.push(`output=${show(parsed.output)}`);
    return lines;
  }
  const line = options(parsed);
  return line ? [line] : [];
}

export function buildGraph(wt: WorkflowTemplateObject): PipelineGraph {
  const templates = new Map(wt.spec.templates.map((t) => [t.name, t]));
  const fused = JSON.parse(wt.metadata.annotations?.[FUSED_TASKS_ANNOTATION] ?? '{}') as Record<string, string[]>;
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const groups: GraphGroup[] = [];
  const params = wt.spec.arguments?.parameters ?? [];
  const paramId = (name: string) => `param:${name}`;
  for (const p of params) nodes.push({ id: paramId(p.name), kind: 'param', lines: [p.name, p.value !== undefined ? `= ${p.value.length > 40 ? `${p.value.slice(0, 39)}…` : p.value}` : 'required'] });
  const usedParams = new Set<string>();

  const addDag = (template: TemplateSpec, prefix: string, group: string | undefined) => {
    for (const task of template.dag!.tasks) {
      const id = `${prefix}${task.name}`;
      const target = templates.get(task.template);
      if (target?.dag) {
        groups.push({ id, label: `${task.name}: one branch per item of ${task.withParam ? readableTags(task.withParam) : 'withItems'}` });
        for (const p of paramsUsed(task.withParam ?? '')) {
          usedParams.add(p);
          edges.push({ from: paramId(p), to: `${id}/${target.dag.tasks[0].name}`, label: 'items', dashed: true });
        }
        addDag(target, `${id}/`, id);
        continue;
      }
      const steps = fused[task.name];
      const title = steps ? `${task.name} (fused: ${steps.join(' → ')})` : `${task.name} [${task.template}]`;
      const lines = [title, ...bodyDetails(task, target)];
      if (task.when) lines.push(`when ${readableCondition(task.when)}`);
      if (task.continueOn) lines.push(`continueOn ${Object.keys(task.continueOn).filter((k) => (task.continueOn as Record<string, boolean>)[k]).join(', ')}`);
      const retry = target?.retryStrategy;
      if (retry) lines.push(`retry ×${retry.limit}${retry.backoff ? ` backoff ${retry.backoff.duration}${retry.backoff.factor ? `×${retry.backoff.factor}` : ''}` : ''}`);
      nodes.push({ id, kind: steps ? 'fused' : 'task', lines, group });
      for (const dep of task.dependencies ?? []) edges.push({ from: `${prefix}${dep}`, to: id, label: task.when ? 'when' : undefined });
      const args = JSON.stringify(task.arguments ?? {}) + (task.when ?? '');
      for (const p of paramsUsed(args)) {
        usedParams.add(p);
        edges.push({ from: paramId(p), to: id, dashed: true });
      }
    }
  };
  const entry = templates.get(wt.spec.entrypoint)!;
  addDag(entry, '', undefined);
  for (const o of entry.outputs?.parameters ?? []) {
    const ref = /tasks\.([a-z0-9-]+)\.outputs/.exec(o.valueFrom?.parameter ?? '')?.[1];
    nodes.push({ id: `output:${o.name}`, kind: 'output', lines: [`output ${o.name}`] });
    if (!ref) continue;
    const group = groups.find((g) => g.id === ref);
    const from = group ? nodes.filter((n) => n.group === group.id).at(-1)!.id : ref;
    edges.push({ from, to: `output:${o.name}`, dashed: true, label: group ? 'gathered' : undefined });
  }
  if (wt.spec.onExit) {
    const exit = templates.get(wt.spec.onExit);
    const url = exit?.http?.url ?? '';
    for (const p of paramsUsed(url + (exit?.http?.body ?? ''))) usedParams.add(p);
    nodes.push({ id: 'exit', kind: 'exit', lines: [`on exit [${wt.spec.onExit}]`, `POST ${readableTags(url)}`] });
    for (const p of paramsUsed(url)) edges.push({ from: paramId(p), to: 'exit', dashed: true });
  }
  // Parameters nothing reads (e.g. only the exit handler body) stay, unconnected.
  return { title: wt.metadata.name ?? 'pipeline', nodes, edges, groups };
}
