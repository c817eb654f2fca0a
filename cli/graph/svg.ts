// SVG of a pipeline graph with a layout of our own (no browser, no network): nodes in layers by
// longest path from the parameters, ordered in each layer by the mean position of their
// predecessors (one barycentre sweep), fan-out groups kept together and boxed; edges as curves.
// PNG comes from rendering this SVG with sharp (librsvg), see png.ts.
import type { GraphNode, PipelineGraph } from './model.js';

const FONT = 12;
const CHAR_W = 6.8; // average advance of a 12px sans-serif glyph; boxes get a margin for safety
const LINE_H = 16;
const PAD_X = 12;
const PAD_Y = 8;
const GAP_X = 28;
const GAP_Y = 56;
const GROUP_PAD = 14;
const MARGIN = 24;

const STYLE: Record<GraphNode['kind'], { fill: string; stroke: string; rx: number }> = {
  param: { fill: '#eef5ff', stroke: '#5b8def', rx: 2 },
  task: { fill: '#ffffff', stroke: '#333333', rx: 6 },
  fused: { fill: '#fff4e0', stroke: '#e08a00', rx: 6 },
  output: { fill: '#eaf7ea', stroke: '#3a9a3a', rx: 16 },
  exit: { fill: '#f6eefc', stroke: '#8a4fc7', rx: 10 },
};

interface Box {
  node: GraphNode;
  layer: number;
  w: number;
  h: number;
  x: number;
  y: number;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function layout(graph: PipelineGraph): { boxes: Map<string, Box>; width: number; height: number } {
  const preds = new Map<string, string[]>(graph.nodes.map((n) => [n.id, []]));
  for (const e of graph.edges) if (preds.has(e.to) && preds.has(e.from)) preds.get(e.to)!.push(e.from);
  // Longest path from a source; outputs and the exit handler go below everything else.
  const layerOf = new Map<string, number>();
  const visit = (id: string, seen: Set<string>): number => {
    const known = layerOf.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0; // a cycle cannot be compiled; guard anyway
    seen.add(id);
    const ps = preds.get(id) ?? [];
    const layer = ps.length ? Math.max(...ps.map((p) => visit(p, seen) + 1)) : graph.nodes.find((n) => n.id === id)!.kind === 'param' ? 0 : 1;
    layerOf.set(id, layer);
    return layer;
  };
  for (const n of graph.nodes) visit(n.id, new Set());
  const maxInner = Math.max(1, ...graph.nodes.filter((n) => n.kind !== 'output' && n.kind !== 'exit').map((n) => layerOf.get(n.id)!));
  for (const n of graph.nodes) if (n.kind === 'output' || n.kind === 'exit') layerOf.set(n.id, Math.max(layerOf.get(n.id)!, maxInner + 1));

  const boxes = new Map<string, Box>();
  for (const n of graph.nodes) {
    const w = Math.ceil(Math.max(...n.lines.map((l, i) => l.length * (i === 0 ? CHAR_W + 0.6 : CHAR_W))) + 2 * PAD_X);
    boxes.set(n.id, { node: n, layer: layerOf.get(n.id)!, w, h: n.lines.length * LINE_H + 2 * PAD_Y, x: 0, y: 0 });
  }
  const layers: Box[][] = [];
  for (const b of boxes.values()) (layers[b.layer] ??= []).push(b);
  // Order: barycentre of predecessors' positions, keeping group members next to each other.
  const position = new Map<string, number>();
  for (const layer of layers) {
    if (!layer) continue;
    const bary = (b: Box) => {
      const ps = preds.get(b.node.id)!.filter((p) => position.has(p));
      return ps.length ? ps.reduce((s, p) => s + position.get(p)!, 0) / ps.length : layer.indexOf(b);
    };
    const groupBary = new Map<string, number>();
    for (const b of layer) if (b.node.group && !groupBary.has(b.node.group)) {
      const members = layer.filter((m) => m.node.group === b.node.group);
      groupBary.set(b.node.group, members.reduce((s, m) => s + bary(m), 0) / members.length);
    }
    const key = (b: Box) => [b.node.group ? groupBary.get(b.node.group)! : bary(b), bary(b)] as const;
    layer.sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1]);
    layer.forEach((b, i) => position.set(b.node.id, i));
  }
  // Coordinates: layers top to bottom, each centred; group members get extra room for the box.
  const layerWidth = (layer: Box[]) => layer.reduce((s, b) => s + b.w, 0) + GAP_X * (layer.length - 1) + 2 * GROUP_PAD;
  const width = Math.max(...layers.filter(Boolean).map(layerWidth)) + 2 * MARGIN;
  let y = MARGIN + (graph.groups.length ? GROUP_PAD + LINE_H : 0);
  for (const layer of layers) {
    if (!layer) continue;
    let x = (width - layerWidth(layer)) / 2 + GROUP_PAD;
    const h = Math.max(...layer.map((b) => b.h));
    for (const b of layer) {
      b.x = x;
      b.y = y + (h - b.h) / 2;
      x += b.w + GAP_X;
    }
    y += h + GAP_Y;
  }
  return { boxes, width: Math.ceil(width), height: Math.ceil(y - GAP_Y + MARGIN + (graph.groups.length ? GROUP_PAD : 0)) };
}

export function toSvg(graph: PipelineGraph): string {
  const { boxes, width, height } = layout(graph);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height + 28}" viewBox="0 0 ${width} ${height + 28}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="${FONT}">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="20" font-size="14" font-weight="bold" fill="#222">${xml(graph.title)}</text>`,
    `<g transform="translate(0,28)">`,
  );
  for (const g of graph.groups) {
    const members = [...boxes.values()].filter((b) => b.node.group === g.id);
    if (!members.length) continue;
    const x1 = Math.min(...members.map((b) => b.x)) - GROUP_PAD;
    const y1 = Math.min(...members.map((b) => b.y)) - GROUP_PAD - LINE_H;
    const x2 = Math.max(...members.map((b) => b.x + b.w)) + GROUP_PAD;
    const y2 = Math.max(...members.map((b) => b.y + b.h)) + GROUP_PAD;
    out.push(
      `<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" rx="8" fill="#f7f7f7" stroke="#999" stroke-dasharray="5 3"/>`,
      `<text x="${x1 + 8}" y="${y1 + LINE_H}" fill="#555" font-style="italic">${xml(g.label)}</text>`,
    );
  }
  for (const e of graph.edges) {
    const a = boxes.get(e.from);
    const b = boxes.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + a.w / 2;
    const y1 = a.y + a.h;
    const x2 = b.x + b.w / 2;
    const y2 = b.y;
    const dy = Math.max(20, (y2 - y1) / 2);
    out.push(
      `<path d="M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}" fill="none" stroke="#555" stroke-width="1.2"${e.dashed ? ' stroke-dasharray="4 3"' : ''} marker-end="url(#arrow)"/>`,
    );
    if (e.label) {
      const mx = (x1 + x2) / 2;
      const my = (y1 + y2) / 2;
      const w = e.label.length * CHAR_W + 8;
      out.push(
        `<rect x="${mx - w / 2}" y="${my - 9}" width="${w}" height="16" fill="#ffffff" opacity="0.9"/>`,
        `<text x="${mx}" y="${my + 3}" text-anchor="middle" fill="#666" font-size="11">${xml(e.label)}</text>`,
      );
    }
  }
  for (const b of boxes.values()) {
    const s = STYLE[b.node.kind];
    out.push(`<rect x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="${s.rx}" fill="${s.fill}" stroke="${s.stroke}" stroke-width="1.5"/>`);
    b.node.lines.forEach((line, i) => {
      const weight = i === 0 ? ' font-weight="bold"' : ' fill="#444"';
      out.push(`<text x="${b.x + PAD_X}" y="${b.y + PAD_Y + (i + 1) * LINE_H - 4}"${weight}>${xml(line)}</text>`);
    });
  }
  out.push('</g>', '</svg>');
  return `${out.join('\n')}\n`;
}
