// `submit --watch` output. On a terminal: a step table redrawn in place on every watch event. Not
// on a terminal (CI logs, pipes): one plain line per step phase change, never a control sequence.
import { isStepNode, stepLine, stepTable, type ReportNode } from '../output/node-report.js';

export interface ProgressDisplay {
  update(phase: string | undefined, nodes: readonly ReportNode[], progress?: string): void;
  close(): void;
}

export function progressDisplay(out: NodeJS.WriteStream | { write(s: string): boolean; isTTY?: boolean }, workflow: string): ProgressDisplay {
  if ((out as { isTTY?: boolean }).isTTY) {
    let drawn = 0;
    return {
      update(phase, nodes, progress) {
        const text = `${workflow}: ${phase ?? 'Pending'}${progress ? ` (${progress})` : ''}\n${stepTable(nodes)}\n`;
        // Move up over the previous drawing and clear it, then draw again.
        if (drawn) out.write(`\x1b[${drawn}A\x1b[J`);
        out.write(text);
        drawn = text.split('\n').length - 1;
      },
      close() {},
    };
  }
  const seen = new Map<string, string>();
  let lastPhase: string | undefined;
  return {
    update(phase, nodes) {
      if (phase && phase !== lastPhase) {
        out.write(`${workflow} ${phase}\n`);
        lastPhase = phase;
      }
      for (const n of nodes) {
        if (!isStepNode(n)) continue;
        const key = `${n.depth}/${n.displayName}`;
        const state = `${n.phase}/${n.attempts ?? 0}`;
        if (seen.get(key) === state) continue;
        seen.set(key, state);
        out.write(`  ${stepLine(n)}\n`);
      }
    },
    close() {},
  };
}
