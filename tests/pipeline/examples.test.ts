// Every example pipeline compiles, matches its YAML snapshot, and is valid for Argo.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { addPipelines, PipelineChart, FUSED_TASKS_ANNOTATION, FUSION_ANNOTATION } from '../../constructs/pipeline/index.js';
import { pipelines } from '../../pipelines/index.js';
import { modelsPresent, sharedSchemaPresent, validateArgoObject, warmUp } from './argo-schema.js';

// Compiling Argo's schemas is slow on a shared machine; do it once, with time to spare.
const SLOW = 600_000;
beforeAll(() => warmUp(['WorkflowTemplate', 'Workflow', 'CronWorkflow']), SLOW);

const yaml = (o: unknown) => stringify(o, { lineWidth: 0 });

describe.each(pipelines.map((p) => [p.name, p] as const))('example %s', (name, pipeline) => {
  for (const fusion of [true, false]) {
    const label = fusion ? 'fused' : 'unfused';
    it(`compiles (${label}) to the snapshot`, async () => {
      await expect(yaml(pipeline.compile({ fusion }))).toMatchFileSnapshot(`./__snapshots__/${name}.${label}.yaml`);
    });

    it(`is a valid WorkflowTemplate (${label})`, async () => {
      const { problems, checks } = await validateArgoObject(pipeline.compile({ fusion }));
      expect(problems).toEqual([]);
      expect(checks).toContain('@kubernetes-models/argo-workflows');
      if (sharedSchemaPresent) expect(checks).toEqual(expect.arrayContaining(['schema.json', 'crd']));
    });
  }

  it('gives a valid Workflow (by reference and inline) and CronWorkflow', async () => {
    for (const object of [
      pipeline.toWorkflow(),
      pipeline.toWorkflow({ inline: true }),
      pipeline.toCronWorkflow({ schedules: ['0 3 * * *'], timezone: 'UTC' }),
    ])
      expect((await validateArgoObject(object)).problems).toEqual([]);
  });

  it('round-trips through its JSON document', () => {
    const again = pipeline.constructor as unknown as { fromJSON(j: unknown): typeof pipeline };
    const copy = again.fromJSON(JSON.parse(JSON.stringify(pipeline.toJSON())));
    expect(copy.toJSON()).toEqual(pipeline.toJSON());
    expect(copy.compile()).toEqual(pipeline.compile());
  });
});

describe('the schema checks', () => {
  it('run with both validators here', () => {
    expect(modelsPresent).toBe(true);
    expect(sharedSchemaPresent).toBe(true);
  });

  it('reject a broken template (so a pass means something)', async () => {
    const broken = pipelines[0].compile();
    (broken.spec as unknown as { templates: unknown }).templates = 'not a list';
    const { problems } = await validateArgoObject(broken);
    expect(problems.length).toBeGreaterThanOrEqual(2);
  });
});

describe('cdk8s', () => {
  it('adds every pipeline to one chart, one WorkflowTemplate each, in the order given', () => {
    const app = Testing.app();
    const chart = addPipelines(app, pipelines, { namespace: 'imageflow-test', gatewayUrl: 'http://gw.test:8080' });
    expect(chart.node.id).toBe('pipelines');
    expect(app.charts).toEqual([chart]);
    const docs = Testing.synth(chart);
    expect(docs.map((d) => d.metadata.name)).toEqual(pipelines.map((p) => p.name));
    const [seed] = docs;
    expect(seed).toMatchObject({
      kind: 'WorkflowTemplate',
      metadata: { name: 'resize-detect-filter', namespace: 'imageflow-test' },
      spec: { serviceAccountName: 'imageflow-workflow' },
    });
    expect(seed.spec.templates.find((t: { name: string }) => t.name === 'pipeline').http.url).toBe('http://gw.test:8080/v1/pipeline');
    expect(seed.metadata.annotations[FUSION_ANNOTATION]).toBe('enabled');
    expect(JSON.parse(seed.metadata.annotations[FUSED_TASKS_ANNOTATION])).toEqual({
      'resize-to-sharpen': ['resize', 'detect', 'sharpen'],
    });
  });

  it('synthesizes what compile() returns', () => {
    const app = new App();
    expect(Testing.synth(addPipelines(app, pipelines))).toEqual(pipelines.map((p) => p.compile()));
  });

  it('writes one file for all pipelines; PipelineChart still gives one its own file', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'imageflow-pipelines-'));
    try {
      const app = new App({ outdir, recordConstructMetadata: false });
      addPipelines(app, pipelines, { id: 'templates' });
      new PipelineChart(app, pipelines[1]);
      app.synth();
      expect(readdirSync(outdir).sort()).toEqual(['pipeline-thumbnails.k8s.yaml', 'templates.k8s.yaml']);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  it('rejects two pipelines of one name (they would overwrite each other)', () => {
    expect(() => addPipelines(Testing.app(), [pipelines[0], pipelines[0]])).toThrow(
      'pipeline "resize-detect-filter" is added twice; pipeline names must be unique (they name the WorkflowTemplates)',
    );
  });
});
