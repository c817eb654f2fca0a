// Fusion on and off: the expected number of HTTP tasks, the compiled template says which steps
// were fused, and running both (simulate + fake gateway) stores the same objects and finds the
// same detections.
import { describe, expect, it } from 'vitest';
import { definePipeline, FUSED_TASKS_ANNOTATION, FUSION_ANNOTATION, param, type WorkflowTemplate } from '../../constructs/pipeline/index.js';
import { batchThumbnails, pipelines, privacyBlur, resizeDetectFilter, thumbnails } from '../../pipelines/index.js';
import { fakeGateway } from './fake-gateway.js';
import { simulate } from './simulate.js';

const httpTasks = (wt: WorkflowTemplate) => {
  const http = new Set(wt.spec.templates.filter((t) => t.http).map((t) => t.name));
  return wt.spec.templates.flatMap((t) => t.dag?.tasks ?? []).filter((task) => http.has(task.template)).map((t) => t.name);
};

/** Every stored output key and every detection list, in call order. */
function observed(wt: WorkflowTemplate, parameters?: Record<string, string>) {
  const run = simulate(wt, fakeGateway(), parameters);
  const keys = Object.fromEntries(
    Object.entries(run.outputs).map(([name, v]) => {
      if (v === '') return [name, null];
      const parsed = JSON.parse(v);
      return [name, Array.isArray(parsed) ? parsed.map((r) => r.output.key) : (parsed.output?.key ?? null)];
    }),
  );
  const detections = run.calls.flatMap((c) => {
    const result = run.results[c.task];
    const list = Array.isArray(result) ? result : [result];
    return list.flatMap((r) => (c.path === '/v1/pipeline' ? r.steps.filter((s: any) => s.op === 'detect').map((s: any) => s.detections) : c.path === '/v1/detect' ? [r.detections] : []));
  });
  return { keys, detections, run };
}

describe('fusion', () => {
  it('fuses the seed chain into one /v1/pipeline call and says so', () => {
    const fused = resizeDetectFilter.compile();
    const unfused = resizeDetectFilter.compile({ fusion: false });
    expect(httpTasks(fused)).toEqual(['resize-to-sharpen']);
    expect(httpTasks(unfused)).toEqual(['resize', 'detect', 'sharpen']);
    expect(fused.metadata.annotations).toMatchObject({
      [FUSION_ANNOTATION]: 'enabled',
      [FUSED_TASKS_ANNOTATION]: '{"resize-to-sharpen":["resize","detect","sharpen"]}',
    });
    expect(unfused.metadata.annotations?.[FUSION_ANNOTATION]).toBe('disabled');
    expect(unfused.metadata.annotations?.[FUSED_TASKS_ANNOTATION]).toBeUndefined();
  });

  it('can be switched off per pipeline', () => {
    expect(httpTasks(resizeDetectFilter.withFusion(false).compile())).toEqual(['resize', 'detect', 'sharpen']);
  });

  it('leaves parallel and conditional steps apart', () => {
    expect(httpTasks(thumbnails.compile())).toEqual(['small', 'medium', 'large']);
    expect(httpTasks(privacyBlur.compile())).toEqual(['find-people', 'blur-all']);
    expect(httpTasks(batchThumbnails.compile())).toEqual(['thumb-to-gray']);
    expect(httpTasks(batchThumbnails.compile({ fusion: false }))).toEqual(['thumb', 'gray']);
  });

  it('breaks a chain where a step is used twice, has an explicit output, or retries differently', () => {
    const p = definePipeline({ name: 'breaks', params: { image: param.objectKey() } }, (p, { image }) => {
      const a = p.resize('a', { input: image, width: 100 });
      const b = p.filter('b', { input: a.image, ops: [{ type: 'negate' }] }); // a fuses into b
      p.filter('c', { input: b.image, ops: [{ type: 'grayscale' }] }); // b is used twice:
      const d = p.filter('d', { input: b.image, ops: [{ type: 'blur' }], output: { format: 'png' } }); // no fusion after b
      const e = p.resize('e', { input: d.image, width: 50 }); // d has an explicit output
      p.filter('f', { input: e.image, ops: [{ type: 'sharpen' }] }, { retry: false }); // different retry
    });
    expect(httpTasks(p.compile())).toEqual(['a-to-b', 'c', 'd', 'e', 'f']);
  });

  it('never fuses a chain that stores no image (the gateway refuses it)', () => {
    const p = definePipeline({ name: 'detect-twice', params: { image: param.objectKey() } }, (p, { image }) => {
      const cars = p.detect('cars', { input: image, classes: ['car'] });
      const people = p.detect('people', { input: cars.image, classes: ['person'] });
      p.resize('small', { input: people.image, width: 100 });
    });
    expect(httpTasks(p.compile())).toEqual(['cars', 'people-to-small']);
    const on = observed(p.compile(), { image: 'in/people.jpg' });
    const off = observed(p.compile({ fusion: false }), { image: 'in/people.jpg' });
    expect(on.detections).toEqual(off.detections);
  });

  it('never fuses more steps than /v1/pipeline accepts (16)', () => {
    const p = definePipeline({ name: 'long', params: { image: param.objectKey() } }, (p, { image }) => {
      let current = image;
      for (let i = 0; i < 20; i++) current = p.resize(`s${i}`, { input: current, width: 1000 - i }).image;
    });
    expect(httpTasks(p.compile())).toEqual(['s0-to-s15', 's16-to-s19']);
  });

  describe.each(pipelines.map((p) => [p.name, p] as const))('%s run with fusion on and off', (_name, pipeline) => {
    const parameters: Record<string, string> =
      pipeline === batchThumbnails ? { images: '["in/people-1.jpg","in/cat.png","in/people-2.jpg"]' } : { image: 'in/people.jpg' };

    it('stores the same objects and finds the same detections', () => {
      const on = observed(pipeline.compile(), parameters);
      const off = observed(pipeline.compile({ fusion: false }), parameters);
      expect(on.keys).toEqual(off.keys);
      expect(on.detections).toEqual(off.detections);
      expect(Object.values(on.keys).flat().filter(Boolean).length).toBeGreaterThan(0);
    });
  });

  it('runs the privacy blur only when a person is found', () => {
    const wt = privacyBlur.compile();
    const withPeople = simulate(wt, fakeGateway(), { image: 'in/people.jpg' });
    expect(withPeople.skipped).toEqual([]);
    expect(JSON.parse(withPeople.outputs.blurred).output.key).toMatch(/^derived\/in\/people\/filter-[0-9a-f]{16}\.jpg$/);
    const empty = simulate(wt, fakeGateway(), { image: 'in/landscape.jpg' });
    expect(empty.skipped).toEqual(['blur-all']);
    expect(empty.outputs.blurred).toBe('');
  });

  it('chains keys through the lineage of the image (seed pipeline)', () => {
    const { keys } = observed(resizeDetectFilter.compile({ fusion: false }), { image: 'in/people.jpg' });
    expect(keys.result).toMatch(/^derived\/in\/people\/resize-[0-9a-f]{16}\/filter-[0-9a-f]{16}\.jpg$/);
  });
});
