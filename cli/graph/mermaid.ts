// Mermaid flowchart text of a pipeline graph (paste into GitHub markdown or mermaid.live).
import type { GraphNode, PipelineGraph } from './model.js';

const mermaidId = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
const escape = (text: string) => text.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');

function shape(n: GraphNode): string {
  const label = `"${n.lines.map(escape).join('<br/>')}"`;
  switch (n.kind) {
    case 'param':
      return `[/${label}/]`;
    case 'output':
      return `([${label}])`;
    case 'exit':
      return `{{${label}}}`;
    default:
      return `[${label}]`;
  }
}

export function toMermaid(graph: PipelineGraph): string {
  const out = ['flowchart TD', `  %% ${graph.title}`];
  const line = (n: GraphNode, indent: string) => `${indent}${mermaidId(n.id)}${shape(n)}`;
  for (const n of graph.nodes.filter((x) => !x.group)) out.push(line(n, '  '));
  for (const g of graph.groups) {
    out.push(`  subgraph ${mermaidId(g.id)}["${escape(g.label)}"]`);
    for (const n of graph.nodes.filter((x) => x.group === g.id)) out.push(line(n, '    '));
    out.push('  end');
  }
  for (const e of graph.edges) {
    const arrow = e.dashed ? '-.->' : '-->';
    out.push(`  ${mermaidId(e.from)} ${arrow}${e.label ? `|${escape(e.label)}|` : ''} ${mermaidId(e.to)}`);
  }
  const classes: Record<string, string> = {
    param: 'fill:#eef5ff,stroke:#5b8def',
    task: 'fill:#ffffff,stroke:#333333',
    fused: 'fill:#fff4e0,stroke:#e08a00',
    output: 'fill:#eaf7ea,stroke:#3a9a3a',
    exit: 'fill:#f6eefc,stroke:#8a4fc7',
  };
  for (const [kind, style] of Object.entries(classes)) {
    const ids = graph.nodes.filter((n) => n.kind === kind).map((n) => mermaidId(n.id));
    if (ids.length) out.push(`  classDef ${kind} ${style}`, `  class ${ids.join(',')} ${kind}`);
  }
  return `${out.join('\n')}\n`;
}
