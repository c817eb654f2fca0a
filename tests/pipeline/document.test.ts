// The JSON document form: validated by zod, round-trips, and its exported JSON Schema accepts
// what the DSL produces.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { Pipeline, PipelineError, pipelineDocumentJsonSchema } from '../../constructs/pipeline/index.js';
import { fromDocument, pipelines } from '../../pipelines/index.js';

describe('pipeline documents', () => {
  const schema = pipelineDocumentJsonSchema();
  const validate = new Ajv2020({ strict: false }).compile(schema);

  it('export a JSON Schema that accepts every example document', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    for (const p of pipelines) expect(validate(p.toJSON()), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ name: 'x', steps: [] })).toBe(false);
  });

  it('read the example document file into the same pipeline', () => {
    const text = readFileSync(new URL('../../pipelines/from-document.json', import.meta.url), 'utf8');
    expect(fromDocument.toJSON()).toEqual(JSON.parse(text));
    expect(Pipeline.fromJSON(text).compile()).toEqual(fromDocument.compile());
  });

  it('are what the DSL builds (an example, in full)', () => {
    expect(pipelines[0].toJSON()).toEqual({
      name: 'resize-detect-filter',
      description: 'Resize an image, detect objects in it, then sharpen it',
      params: {
        image: { type: 'objectKey', description: 'Object key of the input image', default: 'samples/street.jpg' },
        width: { type: 'number', description: 'Target width in pixels', default: 1024 },
      },
      steps: [
        { id: 'resize', op: 'resize', params: { input: { $param: 'image' }, width: { $param: 'width' }, fit: 'inside', withoutEnlargement: true } },
        { id: 'detect', op: 'detect', params: { input: { $step: 'resize' }, confidenceThreshold: 0.4 } },
        { id: 'sharpen', op: 'filter', params: { input: { $step: 'detect' }, ops: [{ type: 'sharpen', intensity: 1.2 }] } },
      ],
      outputs: { result: 'sharpen' },
    });
  });

  it('refuse text that is not JSON, naming what is wrong', () => {
    expect(() => Pipeline.fromJSON('{"name": ')).toThrow(PipelineError);
    expect(() => Pipeline.fromJSON('{"name": ')).toThrowError(/^pipeline "<unnamed>": is not valid JSON: /);
    expect(() => Pipeline.fromJSON({ name: 'x', steps: [], extra: 1 })).toThrowError('pipeline "x", field "steps": steps needs at least one step');
    expect(() => Pipeline.fromJSON({ steps: [{ id: 'a', op: 'resize', params: {} }] })).toThrowError(
      'pipeline "<unnamed>", field "name": Invalid input: expected string, received undefined',
    );
  });

  it('are copied, so changing one does not change the pipeline', () => {
    const doc = pipelines[0].toJSON();
    doc.steps[0].id = 'changed';
    expect(pipelines[0].toJSON().steps[0].id).toBe('resize');
  });
});
