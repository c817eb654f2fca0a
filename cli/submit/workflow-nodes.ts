// Argo's status.nodes as report lines: depth from boundaryID (the DAG a task belongs to), retry
// attempts folded into their Retry node, DAG bookkeeping hidden by the report itself.
import type { ReportNode } from '../output/node-report.js';
import type { ArgoNode, ArgoWorkflow } from './argo-api.js';

export function workflowReportNodes(wf: ArgoWorkflow): ReportNode[] {
  const nodes = Object.values(wf.status?.nodes ?? {});
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const attemptOf = new Set<string>();
  for (const n of nodes) if (n.type === 'Retry') for (const c of n.children ?? []) attemptOf.add(c);
  const depth = (n: ArgoNode, guard = 0): number => {
    if (guard > 50) return 0;
    if (n.name === wf.metadata.name) return 0;
    if (n.name.endsWith('.onExit') && !n.boundaryID) return 1;
    const boundary = n.boundaryID ? byId.get(n.boundaryID) : undefined;
    return boundary ? depth(boundary, guard + 1) + 1 : 1;
  };
  const ms = (s?: string) => (s ? Date.parse(s) : undefined);
  return nodes
    .filter((n) => !attemptOf.has(n.id))
    .sort((a, b) => (ms(a.startedAt) ?? Infinity) - (ms(b.startedAt) ?? Infinity) || a.name.localeCompare(b.name))
    .map((n) => {
      const start = ms(n.startedAt);
      const end = ms(n.finishedAt);
      return {
        displayName: n.displayName,
        type: n.type,
        phase: n.phase ?? 'Pending',
        message: n.message,
        templateName: n.templateName,
        durationMs: start !== undefined && end !== undefined ? end - start : undefined,
        attempts: n.type === 'Retry' ? (n.children?.length ?? 0) : undefined,
        result: n.outputs?.result,
        depth: depth(n),
      };
    });
}

export const isFinished = (phase: string | undefined) => phase === 'Succeeded' || phase === 'Failed' || phase === 'Error';
