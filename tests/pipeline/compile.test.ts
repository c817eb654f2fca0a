// What the compiler emits for each DSL feature, asserted at specific paths (few snapshots).
import { describe, expect, it } from 'vitest';
import {
  and,
  definePipeline,
  DEFAULT_GATEWAY_URL,
  expressions,
  not,
  or,
  param,
  type DagTask,
  type Template,
  type WorkflowTemplate,
} from '../../constructs/pipeline/index.js';
import { pipelines } from '../../pipelines/index.js';

const template = (wt: WorkflowTemplate, name: string): Template => {
  const t = wt.spec.templates.find((x) => x.name === name);
  if (!t) throw new Error(`no template ${name}; have ${wt.spec.templates.map((x) => x.name).join(', ')}`);
  return t;
};
const task = (wt: WorkflowTemplate, name: string): DagTask => {
  const t = wt.spec.templates.flatMap((x) => x.dag?.tasks ?? []).find((x) => x.name === name);
  if (!t) throw new Error(`no task ${name}`);
  return t;
};
const body = (t: DagTask) => t.arguments!.parameters.find((p) => p.name === 'body')!.value!;

/** Every string in an object tree. */
const strings = (o: unknown): string[] =>
  typeof o === 'string' ? [o] : Array.isArray(o) ? o.flatMap(strings) : o && typeof o === 'object' ? Object.values(o).flatMap(strings) : [];

const conditions = definePipeline(
  { name: 'conditions', params: { image: param.objectKey(), n: param.number({ default: 2 }), on: param.boolean({ default: true }), mode: param.enum(['a', 'b'], { default: 'a' }) } },
  (p, { image, n, on, mode }) => {
    const det = p.detect('det', { input: image, drawBoxes: true });
    const blur = { ops: [{ type: 'blur' as const }] };
    p.filter('f1', { input: image, ...blur }, { when: det.detections.count().atLeast(2) });
    p.filter('f2', { input: image, ...blur }, { when: and(n.gt(3), or(on.isTrue(), not(mode.eq('b')))) });
    p.filter('f3', { input: det.image, ...blur }, { when: det.detections.none({ labels: ['cat', 'dog'], minConfidence: 0.25 }) });
  },
);

describe('compile', () => {
  const seed = pipelines[0].compile({ fusion: false });

  it('shares one http template per operation kind', () => {
    const wt = pipelines[1].compile();
    expect(wt.spec.templates.map((t) => t.name)).toEqual(['main', 'resize']);
    expect(wt.spec.templates[0].dag!.tasks.map((t) => t.template)).toEqual(['resize', 'resize', 'resize']);
    expect(seed.spec.templates.map((t) => t.name)).toEqual(['main', 'resize', 'detect', 'filter']);
  });

  it('emits HTTP templates with url, method, JSON body, timeout and retries on transient failures only', () => {
    expect(template(seed, 'resize')).toEqual({
      name: 'resize',
      inputs: { parameters: [{ name: 'body' }] },
      http: {
        url: `${DEFAULT_GATEWAY_URL}/v1/resize`,
        method: 'POST',
        headers: [{ name: 'Content-Type', value: 'application/json' }],
        body: '{{inputs.parameters.body}}',
        timeoutSeconds: 30,
      },
      retryStrategy: {
        limit: '3',
        retryPolicy: 'Always',
        expression: expressions.RETRY_ON_TRANSIENT,
        backoff: { duration: '2s', factor: '2', maxDuration: '1m' },
      },
    });
    expect(template(seed, 'detect').http!.timeoutSeconds).toBe(60);
    // A fused task's timeout is the sum of its steps'.
    expect(template(pipelines[0].compile(), 'pipeline').http!.timeoutSeconds).toBe(120);
  });

  it('retries 5xx, 429 and network errors, never other 4xx', () => {
    const retries = (message: string) =>
      !/received non-2xx response code: 4[0-9][0-9]/.test(message) || /received non-2xx response code: 429/.test(message);
    expect(expressions.RETRY_ON_TRANSIENT).toBe(
      "!(lastRetry.message matches 'received non-2xx response code: 4[0-9][0-9]') || lastRetry.message matches 'received non-2xx response code: 429'",
    );
    expect(retries('received non-2xx response code: 503')).toBe(true);
    expect(retries('received non-2xx response code: 429')).toBe(true);
    expect(retries('Post "http://gw/v1/resize": dial tcp 10.0.0.1:8080: connect: connection refused')).toBe(true);
    expect(retries('context deadline exceeded')).toBe(true);
    expect(retries('received non-2xx response code: 400')).toBe(false);
    expect(retries('received non-2xx response code: 404')).toBe(false);
  });

  it('builds bodies from parameters and upstream results', () => {
    expect(body(task(seed, 'resize'))).toBe(
      `{"input":{"key":{{=toJson(workflow.parameters['image'])}}},"width":{{workflow.parameters.width}},"fit":"inside","withoutEnlargement":true}`,
    );
    // detect without drawBoxes stores nothing: the next step reads resize's image, after detect.
    expect(body(task(seed, 'sharpen'))).toBe(
      `{"input":{"key":{{=toJson(jsonpath(tasks['resize'].outputs.result, '$.output.key'))}}},"ops":[{"type":"sharpen","intensity":1.2}]}`,
    );
    expect(task(seed, 'sharpen').dependencies).toEqual(['detect']);
  });

  it('exposes pipeline outputs as workflow outputs', () => {
    expect(template(seed, 'main').outputs).toEqual({
      parameters: [{ name: 'result', globalName: 'result', valueFrom: { parameter: '{{tasks.sharpen.outputs.result}}' } }],
    });
  });

  it('declares parameters with defaults, enums and descriptions', () => {
    expect(pipelines[1].compile().spec.arguments).toEqual({
      parameters: [
        { name: 'image', value: 'samples/street.jpg', description: 'Object key of the input image (objectKey)' },
        { name: 'fit', value: 'cover', enum: ['cover', 'contain', 'inside'], description: 'How to fit the box (enum)' },
      ],
    });
  });

  it('uses the platform names, overridable by props', () => {
    expect(seed.metadata.namespace).toBe('image-processing');
    expect(seed.spec.serviceAccountName).toBe('imageflow-workflow');
    const custom = pipelines[0].compile({
      namespace: 'imaging',
      gatewayUrl: 'https://gw.example:8443/',
      serviceAccountName: 'runner',
      apiKey: { secretName: 'gw-keys', key: 'workflow-authorization' },
    });
    expect(custom.metadata.namespace).toBe('imaging');
    expect(custom.spec.serviceAccountName).toBe('runner');
    expect(template(custom, 'pipeline').http!.url).toBe('https://gw.example:8443/v1/pipeline');
    expect(template(custom, 'pipeline').http!.headers).toEqual([
      { name: 'Content-Type', value: 'application/json' },
      { name: 'Authorization', valueFrom: { secretKeyRef: { name: 'gw-keys', key: 'workflow-authorization' } } },
    ]);
    expect(() => pipelines[0].compile({ gatewayUrl: 'gateway:8080' })).toThrowError(
      'gatewayUrl "gateway:8080" must be an absolute http:// or https:// URL',
    );
  });

  it('compiles when conditions to one expression tag each', () => {
    const p = conditions;
    const wt = p.compile();
    expect(task(wt, 'f1').when).toBe("{{=count(jsonpath(tasks['det'].outputs.result, '$.detections'), {true}) >= 2}}");
    expect(task(wt, 'f2').when).toBe(
      "{{=(asFloat(workflow.parameters['n']) > 3 && (workflow.parameters['on'] == 'true' || !(workflow.parameters['mode'] == 'b')))}}",
    );
    expect(task(wt, 'f3').when).toBe(
      "{{=count(jsonpath(tasks['det'].outputs.result, '$.detections'), {#.label in ['cat', 'dog'] && #.confidence >= 0.25}) == 0}}",
    );
    expect(task(wt, 'f1').dependencies).toEqual(['det']);
    expect(task(wt, 'f2').dependencies).toBeUndefined();
    // drawBoxes: the annotated image is stored, so it is read from the detect answer.
    expect(body(task(wt, 'f3'))).toContain(`{{=toJson(jsonpath(tasks['det'].outputs.result, '$.output.key'))}}`);
  });

  it('reads detections of a fused detect step from its place in the chain', () => {
    const p = definePipeline({ name: 'chain-when', params: { image: param.objectKey() } }, (p, { image }) => {
      const small = p.resize('small', { input: image, width: 640 });
      const det = p.detect('det', { input: small.image });
      p.filter('blur', { input: det.image, ops: [{ type: 'blur' }] }, { when: det.detections.any({ labels: ['person'] }) });
    });
    const wt = p.compile();
    expect(task(wt, 'blur').when).toBe(
      "{{=count(jsonpath(tasks['small-to-det'].outputs.result, '$.steps[1].detections'), {#.label in ['person']}) >= 1}}",
    );
    expect(body(task(wt, 'blur'))).toContain(`{{=toJson(jsonpath(tasks['small-to-det'].outputs.result, '$.output.key'))}}`);
  });

  it('carries explicit dependencies, continueOn, failFast, parallelism, semaphore, TTL, pod GC, labels', () => {
    const p = definePipeline(
      {
        name: 'knobs',
        params: { image: param.objectKey() },
        failFast: false,
        parallelism: 3,
        semaphore: { configMap: 'limits', key: 'gateway' },
        ttl: { secondsAfterCompletion: 600 },
        podGC: 'OnWorkflowSuccess',
        labels: { team: 'vision' },
        annotations: { 'example.com/owner': 'vision' },
        serviceAccountName: 'own-sa',
      },
      (p, { image }) => {
        const a = p.resize('a', { input: image, width: 10 }, { continueOn: { failed: true }, retry: false, timeoutSeconds: 5 });
        p.filter('b', { input: image, ops: [{ type: 'negate' }] }, { dependsOn: [a] });
      },
    );
    const wt = p.compile();
    expect(task(wt, 'a').continueOn).toEqual({ failed: true });
    expect(task(wt, 'b').dependencies).toEqual(['a']);
    expect(template(wt, 'main').dag!.failFast).toBe(false);
    expect(wt.spec).toMatchObject({
      parallelism: 3,
      serviceAccountName: 'own-sa',
      ttlStrategy: { secondsAfterCompletion: 600 },
      podGC: { strategy: 'OnWorkflowSuccess' },
      workflowMetadata: { labels: { 'imageflow.dev/pipeline': 'knobs', team: 'vision' } },
    });
    expect(wt.metadata.labels).toMatchObject({ team: 'vision' });
    expect(wt.metadata.annotations).toMatchObject({ 'example.com/owner': 'vision' });
    expect(template(wt, 'resize').retryStrategy).toBeUndefined();
    expect(template(wt, 'resize').http!.timeoutSeconds).toBe(5);
    expect(template(wt, 'filter').synchronization).toEqual({ semaphores: [{ configMapKeyRef: { name: 'limits', key: 'gateway' } }] });
  });

  it('gives steps with different retry or timeout their own template', () => {
    const p = definePipeline({ name: 'variants', params: { image: param.objectKey() } }, (p, { image }) => {
      p.resize('a', { input: image, width: 10 });
      p.resize('b', { input: image, width: 20 });
      p.resize('c', { input: image, width: 30 }, { timeoutSeconds: 90 });
    });
    const wt = p.compile();
    expect(wt.spec.templates.map((t) => t.name)).toEqual(['main', 'resize', 'resize-2']);
    expect(['a', 'b', 'c'].map((n) => task(wt, n).template)).toEqual(['resize', 'resize', 'resize-2']);
  });

  it('fans out with withParam and gathers the branch results', () => {
    const wt = pipelines[3].compile();
    expect(task(wt, 'per-image')).toEqual({
      name: 'per-image',
      template: 'for-each-per-image',
      arguments: { parameters: [{ name: 'image', value: '{{item}}' }] },
      withParam: '{{workflow.parameters.images}}',
    });
    expect(template(wt, 'for-each-per-image').outputs).toEqual({
      parameters: [{ name: 'result', valueFrom: { parameter: '{{tasks.thumb-to-gray.outputs.result}}' } }],
    });
    expect(template(wt, 'main').outputs!.parameters[0].valueFrom).toEqual({ parameter: '{{tasks.per-image.outputs.parameters.result}}' });
  });

  it('sends the exit notification with the workflow name and status', () => {
    const wt = pipelines[3].compile();
    expect(wt.spec.onExit).toBe('on-exit');
    expect(template(wt, 'on-exit').http).toMatchObject({
      url: '{{workflow.parameters.notifyUrl}}',
      method: 'POST',
      body: '{"workflow":"{{workflow.name}}","status":"{{workflow.status}}","pipeline":"batch-thumbnails"}',
    });
  });

  it('calls other endpoints with the http escape hatch', () => {
    const p = definePipeline({ name: 'escape', params: { image: param.objectKey(), tag: param.string({ default: 'x' }) } }, (p, { image, tag }) => {
      const small = p.resize('small', { input: image, width: 10 });
      p.http('index', { url: '/v1/index', body: { image: small.image, tag, n: 3, meta: { source: image } } });
      p.http('ping', { url: 'https://hooks.example/ping', method: 'GET' });
    });
    const wt = p.compile();
    expect(task(wt, 'index')).toEqual({
      name: 'index',
      template: 'http-post',
      arguments: {
        parameters: [
          { name: 'url', value: `${DEFAULT_GATEWAY_URL}/v1/index` },
          {
            name: 'body',
            value: `{"image":{{=toJson(jsonpath(tasks['small'].outputs.result, '$.output.key'))}},"tag":{{=toJson(workflow.parameters['tag'])}},"n":3,"meta":{"source":{{=toJson(workflow.parameters['image'])}}}}`,
          },
        ],
      },
      dependencies: ['small'],
    });
    expect(template(wt, 'http-get').http).toMatchObject({ url: '{{inputs.parameters.url}}', method: 'GET' });
    expect(template(wt, 'http-get').http!.body).toBeUndefined();
  });

  it('emits only the documented template forms', () => {
    const all = [
      ...[...pipelines, conditions].flatMap((p) => [p.compile(), p.compile({ fusion: false })]),
    ];
    const tags = new Set(all.flatMap(strings).flatMap(expressions.tagsIn));
    const undocumented = [...tags].filter((t) => !expressions.isDocumentedTag(t));
    expect(undocumented).toEqual([]);
    expect(tags.size).toBeGreaterThan(10);
    expect(expressions.isDocumentedTag('{{=sprig.trim(workflow.name)}}')).toBe(false);
    expect(expressions.isDocumentedTag('{{steps.x.outputs.result}}')).toBe(false);
    expect(expressions.isDocumentedTag("{{=toJson(workflow.parameters['x'])}}")).toBe(true);
    expect(expressions.isDocumentedTag('{{=toJson(workflow.name)}}')).toBe(false);
    expect(expressions.isDocumentedTag("{{=count(jsonpath(tasks['d'].outputs.result, '$.detections'), {true}) >= 1 && X}}")).toBe(false);
  });
});

describe('toWorkflow / toCronWorkflow', () => {
  it('references the template with given parameters', () => {
    expect(pipelines[0].toWorkflow({ parameters: { image: 'in/a.jpg', width: 640 } })).toEqual({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Workflow',
      metadata: { generateName: 'resize-detect-filter-', namespace: 'image-processing', labels: { 'imageflow.dev/pipeline': 'resize-detect-filter' } },
      spec: {
        workflowTemplateRef: { name: 'resize-detect-filter' },
        arguments: { parameters: [{ name: 'image', value: 'in/a.jpg' }, { name: 'width', value: '640' }] },
      },
    });
  });

  it('embeds the template inline on request', () => {
    const wf = pipelines[0].toWorkflow({ inline: true, parameters: { width: 10 } });
    expect(wf.spec.templates).toHaveLength(1 + 1);
    expect(wf.spec.arguments!.parameters).toEqual([
      { name: 'image', value: 'samples/street.jpg', description: 'Object key of the input image (objectKey)' },
      { name: 'width', value: '10' },
    ]);
  });

  it('refuses unknown parameters', () => {
    expect(() => pipelines[0].toWorkflow({ parameters: { height: 3 } })).toThrowError(
      'pipeline "resize-detect-filter", field "parameters.height": is not a parameter of this pipeline; declared: image, width',
    );
  });

  it('schedules a CronWorkflow that never overlaps by default', () => {
    const cron = pipelines[1].toCronWorkflow({ schedules: ['0 3 * * *'] });
    expect(cron.spec).toMatchObject({ schedules: ['0 3 * * *'], concurrencyPolicy: 'Forbid', workflowSpec: { workflowTemplateRef: { name: 'thumbnails' } } });
    expect(() => pipelines[1].toCronWorkflow({ schedules: [] })).toThrowError(
      'pipeline "thumbnails", field "schedules": needs at least one cron schedule, e.g. "0 3 * * *"',
    );
  });
});
