// String values reach the gateway's JSON bodies escaped: a compiled template is run by the local
// runner (cli/runner, which evaluates the tags the way Argo does) against a loopback HTTP server
// that records every body. Values hold `"`, `\` and other characters JSON must escape; each body
// must parse, and carry the exact text submitted (or returned by the upstream step).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { definePipeline, param } from '../../constructs/pipeline/index.js';
import { runWorkflow } from '../../cli/runner/executor.js';
import type { WorkflowTemplateObject } from '../../cli/runner/types.js';

const NASTY = 'in/a "quoted" \\ back\\slash\\ \t tab \u00e9 <&> {{not-a-tag}}.jpg';
const NASTY_OUTPUT = 'derived/"q"\\x.jpg';

interface Call {
  readonly path: string;
  readonly raw: string;
}
let server: Server;
let url: string;
const calls: Call[] = [];

beforeAll(async () => {
  // A stand-in gateway: records the raw body and answers like /v1/resize etc. (a stored output key).
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      calls.push({ path: req.url ?? '', raw });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ output: { bucket: 'imageflow', key: NASTY_OUTPUT }, detections: [], steps: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const pipeline = definePipeline(
  {
    name: 'escaping',
    params: {
      image: param.objectKey({ default: 'plain.jpg' }),
      images: param.objectKeys({ default: ['plain.jpg'] }),
      tag: param.string({ default: 'plain' }),
      width: param.number({ default: 64 }),
    },
  },
  (p, { image, images, tag, width }) => {
    const small = p.resize('small', { input: image, width });
    p.filter('gray', { input: small.image, ops: [{ type: 'grayscale' }] });
    p.http('index', { url: '/v1/index', body: { image: small.image, tag, source: image } });
    p.forEach('each', images, (b, item) => b.resize('thumb', { input: item, width: 32 }));
  },
);

async function run(fusion: boolean): Promise<Map<string, unknown[]>> {
  calls.length = 0;
  const wt = pipeline.compile({ gatewayUrl: url, fusion }) as unknown as WorkflowTemplateObject;
  const result = await runWorkflow(wt, {
    parameters: { image: NASTY, images: JSON.stringify([NASTY]), tag: NASTY, width: '64' },
  });
  expect(result.message).toBeUndefined();
  expect(result.phase).toBe('Succeeded');
  const byPath = new Map<string, unknown[]>();
  for (const c of calls) byPath.set(c.path, [...(byPath.get(c.path) ?? []), JSON.parse(c.raw)]);
  return byPath;
}

describe('string values in JSON bodies are escaped (toJson)', () => {
  it.each([
    ['unfused', false],
    ['fused', true],
  ])('%s: every body parses and carries the exact values', async (_label, fusion) => {
    const bodies = await run(fusion);
    const resizes = bodies.get('/v1/resize') ?? [];
    const chains = bodies.get('/v1/pipeline') ?? [];
    // The first step of the chain reads the parameter; the forEach branch reads its item.
    const inputs = [...resizes, ...chains].map((b) => (b as { input: { key: string } }).input.key);
    expect(inputs.filter((k) => k === NASTY)).toHaveLength(2);
    if (!fusion) {
      // gray reads small's output key (returned by the upstream answer, with `"` and `\`).
      expect(bodies.get('/v1/filter')).toEqual([{ input: { key: NASTY_OUTPUT }, ops: [{ type: 'grayscale' }] }]);
    }
    expect(bodies.get('/v1/index')).toEqual([{ image: NASTY_OUTPUT, tag: NASTY, source: NASTY }]);
  });

  it('emits toJson tags bare (no surrounding quotes) for strings, plain tags for numbers', () => {
    const body = pipeline.compile({ fusion: false }).spec.templates
      .flatMap((t) => t.dag?.tasks ?? [])
      .find((t) => t.name === 'index')!
      .arguments!.parameters!.find((p) => p.name === 'body')!.value;
    expect(body).toBe(
      `{"image":{{=toJson(jsonpath(tasks['small'].outputs.result, '$.output.key'))}},"tag":{{=toJson(workflow.parameters['tag'])}},"source":{{=toJson(workflow.parameters['image'])}}}`,
    );
  });
});
