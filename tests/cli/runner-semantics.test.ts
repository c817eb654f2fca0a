// Argo semantics of the local runner, each with a real failure against a real stack (resize,
// filter, gateway and S3 processes): a stopped service, a bad parameter, a failing webhook.
// The expected behaviour is Argo's documented one:
// - retryStrategy: `limit` retries after the first attempt; the wait before retry n is
//   duration * factor^(n-1) (workflow/controller/operator.go); the compiler's `expression` retries
//   5xx and network errors, never a 4xx (the HTTP template's message is
//   "received non-2xx response code: N").
// - `when` false → the task is Skipped, and tasks that depend on it still run (`dependencies`
//   accept Succeeded or Skipped).
// - continueOn.failed → the failure does not fail the DAG and dependents run.
// - DAG failFast (default true): after a failure no new task starts; running ones finish; the
//   DAG fails. failFast: false lets every other branch run to completion; the DAG still fails.
// - onExit runs after the DAG whatever happened, with {{workflow.status}}; if it fails, a
//   workflow that had succeeded is Failed.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pipeline } from '../../constructs/pipeline/index.js';
import { runLocally } from '../../cli/run/local-run.js';
import { runWorkflow, type NodeStatus, type WorkflowRun } from '../../cli/runner/executor.js';
import type { WorkflowTemplateObject } from '../../cli/runner/types.js';
import { UnsupportedError } from '../../cli/runner/errors.js';
import { makePhoto } from '../support/images.js';
import { startHookServer, type HookServer } from './support/hook-server.js';
import { startTestStack, type TestStack } from './support/stack.js';

let t: TestStack;
let hook: HookServer;
let photo: string;
let bigPhoto: string;

beforeAll(async () => {
  [t, hook] = await Promise.all([startTestStack(['resize', 'filter', 'gateway']), startHookServer()]);
  const dir = mkdtempSync(join(tmpdir(), 'imageflow-cli-sem-'));
  photo = join(dir, 'small.jpg');
  bigPhoto = join(dir, 'big.jpg');
  writeFileSync(photo, await makePhoto(320, 240));
  writeFileSync(bigPhoto, await makePhoto(2400, 1800, 'jpeg', 7));
});
afterAll(async () => {
  await t?.stop();
  await hook?.close();
});

const doc = (name: string, steps: unknown[], options: Record<string, unknown> = {}, params: Record<string, unknown> = {}) =>
  Pipeline.fromJSON({
    name,
    params: { image: { type: 'objectKey' }, ...params },
    steps,
    options: { retry: { limit: 2, backoff: { duration: '300ms', factor: 2 } }, ...options },
  });

const node = (run: WorkflowRun, name: string): NodeStatus => {
  const n = run.nodes.find((x) => x.displayName === name);
  if (!n) throw new Error(`no node ${name} in ${run.nodes.map((x) => x.displayName).join(', ')}`);
  return n;
};

const runOne = async (pipeline: Pipeline, parameters: Record<string, string> = {}, input = photo) => {
  const r = await runLocally({ pipeline, connection: t.connection, inputFiles: [input], parameters });
  return r.runs[0];
};

describe('retryStrategy', () => {
  it('retries a stopped service with Argo backoff, and succeeds once it is back', async () => {
    const p = doc('retry-outage', [{ id: 'gray', op: 'filter', params: { input: { $param: 'image' }, ops: [{ type: 'grayscale' }] } }], {
      retry: { limit: 4, backoff: { duration: '1s', factor: 2 } },
    });
    const port = await t.stopService('filter');
    // Bring the service back while the runner is backing off (first wait 1s, then 2s).
    const restart = new Promise<void>((resolve) => setTimeout(() => void t.restartService('filter', port).then(resolve), 800));
    const started = Date.now();
    const run = await runOne(p);
    await restart;
    const gray = node(run, 'gray');
    expect(run.phase, run.message).toBe('Succeeded');
    expect(gray.attempts).toBeGreaterThanOrEqual(2);
    // Waits of 1s, then 2s (duration * factor^(n-1)) before the attempts that followed failures.
    const waits = [1000, 2000, 4000].slice(0, gray.attempts - 1).reduce((a, b) => a + b, 0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(waits);
  });

  it('gives up after limit + 1 attempts on a service that stays down: "No more retries left"', async () => {
    const p = doc('retry-exhausted', [{ id: 'gray', op: 'filter', params: { input: { $param: 'image' }, ops: [{ type: 'grayscale' }] } }], {
      retry: { limit: 2, backoff: { duration: '300ms', factor: 2 } },
    });
    const port = await t.stopService('filter');
    try {
      const started = Date.now();
      const run = await runOne(p);
      const gray = node(run, 'gray');
      expect(run.phase).toBe('Failed');
      expect(gray.phase).toBe('Failed');
      expect(gray.attempts).toBe(3);
      expect(gray.statusCode).toBe(503);
      expect(gray.message).toMatch(/^No more retries left \(last attempt: received non-2xx response code: 503\)$/);
      expect(Date.now() - started).toBeGreaterThanOrEqual(300 + 600);
    } finally {
      await t.restartService('filter', port);
    }
  });

  it('does not retry a 4xx (a bad parameter): the retry expression evaluates to false', async () => {
    const p = doc('retry-bad-param', [{ id: 'shrink', op: 'resize', params: { input: { $param: 'image' }, width: { $param: 'width' } } }], {}, { width: { type: 'number', default: 100 } });
    const run = await runOne(p, { width: '0' });
    const shrink = node(run, 'shrink');
    expect(run.phase).toBe('Failed');
    expect(shrink.attempts).toBe(1);
    expect(shrink.statusCode).toBe(400);
    expect(shrink.message).toBe('retryStrategy.expression evaluated to false (last attempt: received non-2xx response code: 400)');
  });

  it('stops at backoff.maxDuration: "Backoff would exceed max duration limit"', async () => {
    const p = doc('retry-max-duration', [{ id: 'gray', op: 'filter', params: { input: { $param: 'image' }, ops: [{ type: 'grayscale' }] } }], {
      retry: { limit: 10, backoff: { duration: '1s', factor: 4, maxDuration: '3s' } },
    });
    const port = await t.stopService('filter');
    try {
      const run = await runOne(p);
      const gray = node(run, 'gray');
      // Attempt 1 fails, wait 1s; attempt 2 fails, the next wait (4s) would end past 3s.
      expect(gray.attempts).toBe(2);
      expect(gray.message).toMatch(/^Backoff would exceed max duration limit/);
    } finally {
      await t.restartService('filter', port);
    }
  });
});

describe('when', () => {
  const p = doc(
    'when-param',
    [
      { id: 'shrink', op: 'resize', params: { input: { $param: 'image' }, width: 100 }, when: { param: 'shrink', op: '==', value: true } },
      { id: 'gray', op: 'filter', params: { input: { $param: 'image' }, ops: [{ type: 'grayscale' }] }, dependsOn: ['shrink'] },
    ],
    { fusion: false },
    { shrink: { type: 'boolean', default: true } },
  );

  it('runs the task when the condition holds', async () => {
    const run = await runOne(p, { shrink: 'true' });
    expect(node(run, 'shrink').phase).toBe('Succeeded');
    expect(node(run, 'gray').phase).toBe('Succeeded');
  });

  it('skips it when false, and its dependents still run', async () => {
    const run = await runOne(p, { shrink: 'false' });
    expect(node(run, 'shrink').phase).toBe('Skipped');
    expect(node(run, 'shrink').attempts).toBe(0);
    expect(node(run, 'gray').phase).toBe('Succeeded');
    expect(run.phase).toBe('Succeeded');
  });
});

describe('continueOn', () => {
  const steps = (continueOn?: object) => [
    { id: 'bad', op: 'resize', params: { input: { $param: 'image' }, width: { $param: 'width' } }, ...(continueOn ? { continueOn } : {}) },
    { id: 'gray', op: 'filter', params: { input: { $param: 'image' }, ops: [{ type: 'grayscale' }] }, dependsOn: ['bad'] },
  ];
  const params = { width: { type: 'number', default: 100 } };

  it('continueOn.failed: the failed task does not fail the workflow and its dependents run', async () => {
    const run = await runOne(doc('continue-on', steps({ failed: true }), { fusion: false }, params), { width: '0' });
    expect(node(run, 'bad').phase).toBe('Failed');
    expect(node(run, 'gray').phase).toBe('Succeeded');
    expect(run.phase).toBe('Succeeded');
  });

  it('without it, dependents of the failed task never run and the workflow fails', async () => {
    const run = await runOne(doc('no-continue-on', steps(), { fusion: false }, params), { width: '0' });
    expect(node(run, 'bad').phase).toBe('Failed');
    expect(node(run, 'gray').phase).toBe('Omitted');
    expect(run.phase).toBe('Failed');
  });
});

describe('failFast', () => {
  // `bad` fails at once (400); `slow` is still resizing a large photo then, and `after` waits for it.
  const steps = [
    { id: 'bad', op: 'resize', params: { input: { $param: 'image' }, width: { $param: 'width' } } },
    { id: 'slow', op: 'resize', params: { input: { $param: 'image' }, width: 2000, fit: 'fill', height: 1500 } },
    { id: 'after', op: 'filter', params: { input: { $step: 'slow' }, ops: [{ type: 'blur', intensity: 8 }] } },
  ];
  const params = { width: { type: 'number', default: 100 } };

  it('default (true): no new task starts after the failure; running ones finish; the DAG fails', async () => {
    const run = await runOne(doc('fail-fast', steps, { fusion: false }, params), { width: '0' }, bigPhoto);
    expect(node(run, 'bad').phase).toBe('Failed');
    expect(node(run, 'slow').phase).toBe('Succeeded');
    expect(node(run, 'after').phase).toBe('Omitted');
    expect(node(run, 'after').attempts).toBe(0);
    expect(run.phase).toBe('Failed');
  });

  it('false: the other branch runs to completion; the DAG still fails', async () => {
    const run = await runOne(doc('no-fail-fast', steps, { fusion: false, failFast: false }, params), { width: '0' }, bigPhoto);
    expect(node(run, 'bad').phase).toBe('Failed');
    expect(node(run, 'after').phase).toBe('Succeeded');
    expect(run.phase).toBe('Failed');
  });
});

describe('exit handler', () => {
  const p = (url: string) =>
    doc('exit-handler', [{ id: 'shrink', op: 'resize', params: { input: { $param: 'image' }, width: { $param: 'width' } } }], {
      onExit: { url, body: { team: 'imaging' } },
      retry: { limit: 1, backoff: { duration: '200ms' } },
    }, { width: { type: 'number', default: 100 } });

  it('runs after a success with status Succeeded', async () => {
    hook.status = 200;
    const before = hook.calls.length;
    const run = await runOne(p(hook.url));
    expect(run.phase).toBe('Succeeded');
    expect(hook.calls.slice(before)).toEqual([{ workflow: run.name, status: 'Succeeded', team: 'imaging' }]);
  });

  it('runs after a failure with status Failed; the workflow stays Failed', async () => {
    hook.status = 200;
    const before = hook.calls.length;
    const run = await runOne(p(hook.url), { width: '0' });
    expect(run.phase).toBe('Failed');
    expect(node(run, 'onExit').phase).toBe('Succeeded');
    expect(hook.calls.slice(before)).toEqual([{ workflow: run.name, status: 'Failed', team: 'imaging' }]);
  });

  it('a failing exit handler (webhook answers 500, retried) turns a success into Failed', async () => {
    hook.status = 500;
    const before = hook.calls.length;
    try {
      const run = await runOne(p(hook.url));
      expect(node(run, 'shrink').phase).toBe('Succeeded');
      expect(node(run, 'onExit').phase).toBe('Failed');
      expect(node(run, 'onExit').attempts).toBe(2);
      expect(hook.calls.length - before).toBe(2);
      expect(run.phase).toBe('Failed');
      expect(run.message).toMatch(/received non-2xx response code: 500/);
    } finally {
      hook.status = 200;
    }
  });
});

describe('refusals', () => {
  const template = () =>
    doc('refusal', [{ id: 'shrink', op: 'resize', params: { input: { $param: 'image' }, width: 10 } }]).compile({ gatewayUrl: t.gateway }) as unknown as WorkflowTemplateObject;

  it('refuses a template field it does not implement, naming the field', async () => {
    const wt = template();
    (wt.spec.templates[1] as unknown as Record<string, unknown>).activeDeadlineSeconds = 30;
    await expect(runWorkflow(wt, { parameters: { image: 'x.jpg' } })).rejects.toThrow(
      new UnsupportedError('spec.templates[1].activeDeadlineSeconds', 'the local runner does not support "activeDeadlineSeconds" here; run it in a cluster with `imageflow submit`, or remove it'),
    );
  });

  it('refuses an expression function outside the compiler forms, naming the field', async () => {
    const wt = template();
    wt.spec.templates[0].dag!.tasks[0].when = "{{=sprig.contains('a', 'abc')}}";
    await expect(runWorkflow(wt, { parameters: { image: 'x.jpg' } })).rejects.toThrow(
      /^spec\.templates\[0\]\.dag\.tasks\[0\]\.when: function sprig\.contains\(\) is not supported by the local runner/,
    );
  });
});
