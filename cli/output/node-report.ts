// Step lines while a run progresses, and the step table at its end. Shared by `run` (local nodes)
// and `submit --watch` (Argo's status.nodes), which is why it takes a minimal node shape.
import { formatMs, oneLine, renderTable } from './table.js';
import { summarizeResult } from './step-summary.js';

export interface ReportNode {
  readonly displayName: string;
  readonly type: string;
  readonly phase: string;
  readonly message?: string;
  readonly templateName?: string;
  readonly durationMs?: number;
  readonly attempts?: number;
  readonly result?: string;
  /** Nesting depth under the workflow's root node. */
  readonly depth: number;
}

export const PHASE_MARK: Record<string, string> = {
  Pending: '◷',
  Running: '●',
  Succeeded: '✔',
  Failed: '✖',
  Error: '⚠',
  Skipped: '○',
  Omitted: '-',
};

/** Only the nodes people care about: steps and fan-outs, not the DAG bookkeeping. */
export const isStepNode = (n: { type: string; depth: number }) => n.depth > 0 && n.type !== 'DAG' && n.type !== 'Steps';

export function stepLine(n: ReportNode): string {
  const extra = n.phase === 'Succeeded' ? summarizeResult(n.result) : oneLine(n.message, 100);
  const attempts = n.attempts && n.attempts > 1 ? ` after ${n.attempts} attempts` : '';
  return `${PHASE_MARK[n.phase] ?? '?'} ${n.displayName} ${n.phase}${attempts}${n.durationMs !== undefined ? ` in ${formatMs(n.durationMs)}` : ''}${extra ? `: ${extra}` : ''}`;
}

export function stepTable(nodes: readonly ReportNode[]): string {
  const rows = nodes
    .filter(isStepNode)
    .map((n) => [
      `${'  '.repeat(Math.max(0, n.depth - 1))}${PHASE_MARK[n.phase] ?? '?'} ${n.displayName}`,
      n.templateName ?? '',
      n.phase,
      n.attempts ? String(n.attempts) : '',
      formatMs(n.durationMs),
      n.phase === 'Succeeded' ? oneLine(summarizeResult(n.result), 70) : oneLine(n.message, 70),
    ]);
  return renderTable(['STEP', 'TEMPLATE', 'PHASE', 'TRIES', 'DURATION', 'RESULT / MESSAGE'], rows);
}
