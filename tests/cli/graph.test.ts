// `imageflow graph`: mermaid and SVG snapshots for one pipeline, and the SVG renders to a PNG
// locally (sharp/librsvg) with the drawing actually on it.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { pipelines } from '../../pipelines/index.js';
import { buildGraph } from '../../cli/graph/model.js';
import { toMermaid } from '../../cli/graph/mermaid.js';
import { svgToPng } from '../../cli/graph/png.js';
import { toSvg } from '../../cli/graph/svg.js';
import type { WorkflowTemplateObject } from '../../cli/runner/types.js';

const graphOf = (name: string, fusion?: boolean) =>
  buildGraph(pipelines.find((p) => p.name === name)!.compile({ fusion }) as unknown as WorkflowTemplateObject);

describe('imageflow graph', () => {
  it('privacy-blur as mermaid: parameters, steps with options, the condition, outputs', async () => {
    const text = toMermaid(graphOf('privacy-blur'));
    await expect(text).toMatchFileSnapshot('__snapshots__/privacy-blur.mmd');
    expect(text).toContain("when count(find-people.detections, {#.label in ['person'] && #.confidence #gt;= 0.5}) #gt;= 1");
    expect(text).toContain('find_people -->|when| blur_all');
  });

  it('privacy-blur as SVG (snapshot), rendered to a PNG that is not blank', async () => {
    const svg = toSvg(graphOf('privacy-blur'));
    await expect(svg).toMatchFileSnapshot('__snapshots__/privacy-blur.svg');
    const png = await svgToPng(svg);
    const meta = await sharp(png).metadata();
    expect(meta.format).toBe('png');
    const width = Number(/width="(\d+)"/.exec(svg)![1]);
    expect(meta.width).toBe(width * 2); // density 144 = 2x
    const stats = await sharp(png).stats();
    // Boxes and edges are drawn: the picture is far from uniformly white.
    expect(stats.channels[0].min).toBeLessThan(100);
    expect(stats.isOpaque).toBe(true);
  });

  it('fused groups and fan-out: batch-thumbnails shows the fused step inside its per-image group', () => {
    const g = graphOf('batch-thumbnails');
    expect(g.groups).toEqual([{ id: 'per-image', label: 'per-image: one branch per item of {images}' }]);
    const fused = g.nodes.find((n) => n.kind === 'fused')!;
    expect(fused).toMatchObject({ group: 'per-image', lines: ['thumb-to-gray (fused: thumb → gray)', 'resize: width={width}', 'filter: ops=grayscale', 'output=format:webp', 'retry ×3 backoff 2s×2'] });
    expect(g.edges).toContainEqual({ from: 'param:images', to: 'per-image/thumb-to-gray', label: 'items', dashed: true });
    expect(g.nodes.find((n) => n.kind === 'exit')!.lines).toEqual(['on exit [on-exit]', 'POST {notifyUrl}']);
  });

  it('fusion off draws every step on its own, in data-flow order', () => {
    const g = graphOf('resize-detect-filter', false);
    const tasks = g.nodes.filter((n) => n.kind === 'task').map((n) => n.id);
    expect(tasks).toEqual(['resize', 'detect', 'sharpen']);
    expect(g.edges.filter((e) => !e.dashed)).toEqual([{ from: 'resize', to: 'detect', label: undefined }, { from: 'detect', to: 'sharpen', label: undefined }]);
  });
});
