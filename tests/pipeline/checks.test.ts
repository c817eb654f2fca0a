// Each semantic check refuses a broken pipeline with a message naming the pipeline, the step and
// the field, and saying what to change. The messages are part of the interface: exact here.
import { describe, expect, it } from 'vitest';
import { definePipeline, param, Pipeline, PipelineError, type StepDoc } from '../../constructs/pipeline/index.js';

type Doc = { name: string; params: Record<string, unknown>; steps: any[]; outputs?: Record<string, string> };

/** resize (small) → detect (find), with parameters of every kind. */
function base(): Doc {
  return {
    name: 'demo',
    params: {
      image: { type: 'objectKey' },
      width: { type: 'number', default: 100 },
      mode: { type: 'string' },
      keys: { type: 'objectKeys' },
      boxes: { type: 'boolean' },
    },
    steps: [
      { id: 'small', op: 'resize', params: { input: { $param: 'image' }, width: 100 } },
      { id: 'find', op: 'detect', params: { input: { $step: 'small' } } },
    ],
  };
}

const inner = (input: unknown): StepDoc => ({ id: 'inner', op: 'filter', params: { input, ops: [{ type: 'negate' }] } });
const forEach = (over: string, input: unknown, gather = 'inner') => ({
  id: 'each',
  op: 'forEach',
  over: { $param: over },
  gather,
  steps: [inner(input)],
});

const cases: [string, (d: Doc) => void, string][] = [
  [
    'a cycle',
    (d) => (d.steps[0].dependsOn = ['find']),
    'pipeline "demo", step "small": is part of a cycle small -> find -> small; remove one of these references',
  ],
  [
    'a dangling image reference',
    (d) => (d.steps[1].params.input = { $step: 'smal' }),
    'pipeline "demo", step "find", field "input": refers to step "smal", which does not exist',
  ],
  [
    'a dangling dependsOn',
    (d) => (d.steps[1].dependsOn = ['nope']),
    'pipeline "demo", step "find", field "dependsOn": refers to step "nope", which does not exist',
  ],
  [
    'a pipeline name that is not DNS-1123',
    (d) => (d.name = 'Demo_Pipeline'),
    'pipeline "Demo_Pipeline", field "name": must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit',
  ],
  [
    'a pipeline name that is too long',
    (d) => (d.name = 'a'.repeat(53)),
    `pipeline "${'a'.repeat(53)}", field "name": is 53 characters; use at most 52 (Argo's limit for CronWorkflow names)`,
  ],
  [
    'a step id that is not DNS-1123',
    (d) => {
      d.steps[0].id = 'Small';
      d.steps[1].params.input = { $step: 'Small' };
    },
    'pipeline "demo", step "Small", field "id": must be a DNS-1123 label of at most 63 characters: lowercase letters, digits and "-"',
  ],
  [
    'two steps with one id',
    (d) => {
      d.steps[1].id = 'small';
      d.steps[1].params.input = { $param: 'image' };
    },
    'pipeline "demo", step "small", field "id": is used by two steps; give each step its own id',
  ],
  [
    'a parameter referenced but not declared',
    (d) => (d.steps[0].params.width = { $param: 'size' }),
    'pipeline "demo", step "small", field "width": refers to parameter "size", which is not declared; add it to params',
  ],
  [
    'a parameter of the wrong type for an option',
    (d) => (d.steps[0].params.width = { $param: 'mode' }),
    'pipeline "demo", step "small", field "width": parameter "mode" does not fit: Invalid input: expected number, received string',
  ],
  [
    'an enum parameter with a value the option refuses',
    (d) => {
      d.params.fit = { type: 'enum', values: ['cover', 'stretch'] };
      d.steps[0].params.fit = { $param: 'fit' };
    },
    'pipeline "demo", step "small", field "fit": parameter "fit" does not fit: its value "stretch" is refused: Invalid option: expected one of "contain"|"cover"|"fill"|"inside"|"outside"',
  ],
  [
    'an input that is not an image',
    (d) => (d.steps[0].params.input = { $param: 'width' }),
    'pipeline "demo", step "small", field "input": parameter "width" is of type number; this field needs objectKey',
  ],
  [
    'a when on detections not produced yet',
    (d) =>
      d.steps.unshift({
        id: 'early',
        op: 'filter',
        params: { input: { $param: 'image' }, ops: [{ type: 'grayscale' }] },
        when: { detections: 'find', op: '>=', count: 1 },
      }),
    'pipeline "demo", step "early", field "when": tests the detections of step "find", which is not produced yet; declare "find" before "early"',
  ],
  [
    'a when on a step without detections',
    (d) => (d.steps[1].when = { detections: 'small', op: '>=', count: 1 }),
    'pipeline "demo", step "find", field "when": tests the detections of step "small", a resize step that produces none; use a detect step',
  ],
  [
    'a when on the step itself',
    (d) => (d.steps[1].when = { detections: 'find', op: '>=', count: 1 }),
    'pipeline "demo", step "find", field "when": refers to the step itself',
  ],
  [
    'an ordering comparison on a string parameter',
    (d) => (d.steps[1].when = { param: 'mode', op: '>', value: 'a' }),
    'pipeline "demo", step "find", field "when": compares string parameter "mode" with >; only number parameters can use >, use == or !=',
  ],
  [
    'a misspelt option',
    (d) => (d.steps[0].params.widht = 100),
    'pipeline "demo", step "small", field "widht": is not a resize option; check the spelling against the gateway API (services/shared/http-api.ts)',
  ],
  [
    'a string where a number belongs',
    (d) => (d.steps[0].params.width = '100'),
    'pipeline "demo", step "small", field "width": Invalid input: expected number, received string',
  ],
  [
    'an option out of range',
    (d) => (d.steps[0].params.width = 0),
    'pipeline "demo", step "small", field "width": Too small: expected number to be >=1',
  ],
  ['a resize without a size', (d) => delete d.steps[0].params.width, 'pipeline "demo", step "small": resize needs width, height or both'],
  [
    'a loop image outside a forEach',
    (d) => (d.steps[0].params.input = { $item: true }),
    'pipeline "demo", step "small", field "input": {"$item": true} is only valid inside a forEach',
  ],
  [
    'drawBoxes from a parameter',
    (d) => (d.steps[1].params.drawBoxes = { $param: 'boxes' }),
    'pipeline "demo", step "find", field "drawBoxes": must be true or false, not a parameter: it decides whether the step produces a new image',
  ],
  [
    'an image where an option belongs',
    (d) => (d.steps[1].params.model = { $step: 'small' }),
    'pipeline "demo", step "find", field "model": an image can only be passed as "input"',
  ],
  [
    'an output of an unknown step',
    (d) => (d.outputs = { result: 'nope' }),
    'pipeline "demo", field "outputs.result": refers to step "nope", which does not exist',
  ],
  [
    'a forEach branch reading an outer step',
    (d) => d.steps.push(forEach('keys', { $step: 'small' })),
    'pipeline "demo", step "inner", field "input": refers to step "small", which is outside the forEach; a forEach branch only sees its own steps and the parameters',
  ],
  [
    'a forEach gathering an unknown step',
    (d) => d.steps.push(forEach('keys', { $item: true }, 'nope')),
    'pipeline "demo", step "each", field "gather": "nope" is not a step of this forEach; gather one of inner',
  ],
  [
    'a forEach over a single key',
    (d) => d.steps.push(forEach('image', { $item: true })),
    'pipeline "demo", step "each", field "over": parameter "image" is of type objectKey; this field needs objectKeys',
  ],
  [
    'an http step with a relative URL',
    (d) => d.steps.push({ id: 'call', op: 'http', params: { url: 'gateway/v1/x' } }),
    'pipeline "demo", step "call", field "url": "gateway/v1/x" must be absolute (http:// or https://) or a gateway path starting with "/"',
  ],
  [
    'an unknown operation (document schema)',
    (d) => (d.steps[0].op = 'crop'),
    `pipeline "demo", step "small", field "op": Invalid discriminator value. Expected 'resize' | 'filter' | 'detect' | 'http' | 'forEach'`,
  ],
  [
    'a retry limit that is not a number (document schema)',
    (d) => (d.steps[0].retry = { limit: 'three' }),
    'pipeline "demo", step "small", field "retry.limit": Invalid input: expected number, received string',
  ],
];

describe('checks', () => {
  it.each(cases)('refuse %s', (_name, mutate, message) => {
    const doc = base();
    mutate(doc);
    let caught: unknown;
    try {
      Pipeline.fromJSON(doc).compile();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(PipelineError);
    expect((caught as Error).message).toBe(message);
  });

  it('accept the base document', () => {
    expect(() => Pipeline.fromJSON(base()).compile()).not.toThrow();
  });

  it('refuse a fused task name that another step already has', () => {
    const doc = base();
    doc.steps.push({ id: 'small-to-find', op: 'filter', params: { input: { $param: 'image' }, ops: [{ type: 'negate' }] } });
    const pipeline = Pipeline.fromJSON(doc);
    expect(() => pipeline.compile()).toThrowError(
      'pipeline "demo", step "small-to-find", field "id": the fused task "small-to-find" has the same name as another step; rename one of them',
    );
    expect(() => pipeline.compile({ fusion: false })).not.toThrow();
  });

  it("refuse more DAG tasks than Argo's limit of 200", () => {
    const doc = base();
    doc.steps = Array.from({ length: 201 }, (_, i) => ({ id: `s${i}`, op: 'resize', params: { input: { $param: 'image' }, width: i + 1 } }));
    expect(() => Pipeline.fromJSON(doc).compile()).toThrowError(
      'pipeline "demo": has 201 tasks in one DAG; Argo allows at most 200 (group steps with forEach or enable fusion)',
    );
  });

  it("refuse more templates than Argo's limit of 200", () => {
    // Every distinct timeout needs its own http template.
    const doc = base();
    const step = (i: number, input: unknown) => ({ id: `s${i}`, op: 'resize', params: { input, width: 10 }, timeoutSeconds: i + 1 });
    doc.steps = [
      ...Array.from({ length: 120 }, (_, i) => step(i, { $param: 'image' })),
      { id: 'each', op: 'forEach', over: { $param: 'keys' }, gather: 's120', steps: Array.from({ length: 90 }, (_, i) => step(120 + i, { $item: true })) },
    ];
    expect(() => Pipeline.fromJSON(doc).compile({ fusion: false })).toThrowError(
      'pipeline "demo": compiles to 212 templates; Argo allows at most 200',
    );
  });

  it('name the pipeline, step and field in the DSL too', () => {
    expect(() =>
      definePipeline({ name: 'typed', params: { image: param.objectKey() } }, (p, { image }) => {
        p.resize('tiny', { input: image, width: 20_000 });
      }),
    ).toThrowError('pipeline "typed", step "tiny", field "width": Too big: expected number to be <=16384');
  });

  it('list every finding at once for lint', () => {
    const doc = base();
    doc.steps[0].params.widht = 100;
    doc.steps[1].dependsOn = ['nope'];
    expect(Pipeline.lint(doc).map((e) => e.message)).toEqual([
      'pipeline "demo", step "small", field "widht": is not a resize option; check the spelling against the gateway API (services/shared/http-api.ts)',
      'pipeline "demo", step "find", field "dependsOn": refers to step "nope", which does not exist',
    ]);
  });
});
