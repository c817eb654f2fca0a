// The runner's expression evaluator on exactly the forms the compiler emits (read from the
// compiled examples, not retyped), its refusals, and retryStrategy decisions as Argo's controller
// makes them.
import { describe, expect, it } from 'vitest';
import { expressions } from '../../constructs/pipeline/index.js';
import { pipelines } from '../../pipelines/index.js';
import { Expression } from '../../cli/runner/expr.js';
import { RetryPolicy, type Attempt } from '../../cli/runner/retry.js';
import { substitute } from '../../cli/runner/tags.js';
import { UnsupportedError } from '../../cli/runner/errors.js';

const compiled = (name: string) => pipelines.find((p) => p.name === name)!.compile() as unknown as { spec: { templates: { dag?: { tasks: { name: string; when?: string; arguments?: { parameters: { value: string }[] } }[] } }[] } };

const scope = (tasks: Record<string, string>, params: Record<string, string> = {}) => ({
  simple: new Map([
    ...Object.entries(params).map(([k, v]) => [`workflow.parameters.${k}`, v] as [string, string]),
    ...Object.entries(tasks).map(([k, v]) => [`tasks.${k}.outputs.result`, v] as [string, string]),
  ]),
  expr: { workflow: { parameters: params }, tasks: Object.fromEntries(Object.entries(tasks).map(([k, v]) => [k, { outputs: { result: v } }])) },
});

describe('expressions the compiler emits', () => {
  const when = compiled('privacy-blur').spec.templates[0].dag!.tasks.find((t) => t.name === 'blur-all')!.when!;
  const people = (...d: [string, number][]) => JSON.stringify({ detections: d.map(([label, confidence]) => ({ label, confidence })) });

  it('count(jsonpath(...), {#.label in [...] && #.confidence >= C}) >= 1', () => {
    expect(substitute(when, scope({ 'find-people': people(['person', 0.9]) }), 'when')).toBe('true');
    expect(substitute(when, scope({ 'find-people': people(['person', 0.4], ['cat', 0.99]) }), 'when')).toBe('false');
    expect(substitute(when, scope({ 'find-people': people() }), 'when')).toBe('false');
  });

  it('workflow.parameters[...] == \'false\' (boolean parameters compare as text)', () => {
    const w = compiled('watermark-check').spec.templates[0].dag!.tasks.find((t) => t.name === 'cars')!.when!;
    expect(substitute(w, scope({}, { skipDetection: 'false' }), 'when')).toBe('true');
    expect(substitute(w, scope({}, { skipDetection: 'true' }), 'when')).toBe('false');
  });

  it('jsonpath extraction inside a JSON body, and simple tags', () => {
    const body = compiled('watermark-check').spec.templates[0].dag!.tasks.find((t) => t.name === 'cars')!.arguments!.parameters[0].value;
    const out = substitute(body, scope({ boost: JSON.stringify({ output: { key: 'derived/a/filter-1.png' } }) }), 'body');
    expect(JSON.parse(out).input).toEqual({ key: 'derived/a/filter-1.png' });
  });

  it('asFloat(parameter) comparisons, !, ||, and the retry expression on Argo messages', () => {
    expect(Expression.parse("asFloat(workflow.parameters['w']) > 100 || !(1 == 1)", 'f').evaluate({ workflow: { parameters: { w: '256' } } })).toBe(true);
    const retry = Expression.parse(expressions.RETRY_ON_TRANSIENT, 'retryStrategy.expression');
    const on = (message: string) => retry.evaluate({ lastRetry: { message } });
    expect(on('received non-2xx response code: 503')).toBe(true);
    expect(on('received non-2xx response code: 429')).toBe(true);
    expect(on('received non-2xx response code: 400')).toBe(false);
    expect(on('Post "http://gw/v1/resize": dial tcp 10.0.0.1:8080: connect: connection refused')).toBe(true);
  });

  it('refuses what it does not implement, naming the field', () => {
    expect(() => Expression.parse("sprig.upper('x')", 'spec.templates[0].dag.tasks[1].when')).toThrow(UnsupportedError);
    expect(() => Expression.parse("filter(x, {# > 1})", 'f.when')).toThrow(/^f\.when: function filter\(\) is not supported/);
    expect(() => substitute('{{steps.a.outputs.result}}', scope({}), 'spec.templates[2].http.body')).toThrow(
      'spec.templates[2].http.body: the tag {{steps.a.outputs.result}} is not one the local runner supports',
    );
    expect(() => Expression.parse("a ?? 'b'", 'f')).toThrow(/^f: unexpected character "\?"/);
  });
});

describe('retryStrategy decisions (Argo operator.go order and formula)', () => {
  const fail = (start: number, end: number, message = 'received non-2xx response code: 503'): Attempt => ({ phase: 'Failed', message, startedAt: start, finishedAt: end });
  const policy = (s: object) => new RetryPolicy({ retryPolicy: 'Always', ...s }, 'spec.templates[1].retryStrategy');

  it('waits duration * factor^(n-1) after the n-th failure, up to limit retries', () => {
    const p = policy({ limit: '3', backoff: { duration: '2s', factor: '2' } });
    const a1 = [fail(0, 100)];
    expect(p.decide(a1, 100)).toEqual({ retry: true, waitMs: 2000 });
    const a2 = [...a1, fail(2100, 2200)];
    expect(p.decide(a2, 2200)).toEqual({ retry: true, waitMs: 4000 });
    const a3 = [...a2, fail(6200, 6300)];
    expect(p.decide(a3, 6300)).toEqual({ retry: true, waitMs: 8000 });
    expect(p.decide([...a3, fail(14300, 14400)], 14400)).toEqual({ retry: false, waitMs: 0, message: 'No more retries left' });
  });

  it('cap limits each wait; maxDuration counts from the first attempt', () => {
    expect(policy({ limit: '9', backoff: { duration: '1s', factor: '10', cap: '5s' } }).decide([fail(0, 0), fail(1000, 1000)], 1000).waitMs).toBe(5000);
    const p = policy({ limit: '9', backoff: { duration: '1s', factor: '2', maxDuration: '3s' } });
    expect(p.decide([fail(0, 500)], 500)).toEqual({ retry: true, waitMs: 1000 });
    expect(p.decide([fail(0, 500), fail(1500, 2000)], 2000)).toMatchObject({ retry: false, message: 'Backoff would exceed max duration limit' });
    expect(p.decide([fail(0, 3500)], 3500)).toMatchObject({ retry: false, message: 'Max duration limit exceeded' });
  });

  it('a bare number is seconds; retryPolicy OnError does not retry a failure; the expression can stop it', () => {
    expect(policy({ limit: '1', backoff: { duration: '3' } }).decide([fail(0, 0)], 0).waitMs).toBe(3000);
    expect(new RetryPolicy({ limit: '3', retryPolicy: 'OnError' }, 'x').decide([fail(0, 0)]).retry).toBe(false);
    const p = policy({ limit: '3', expression: expressions.RETRY_ON_TRANSIENT });
    expect(p.decide([fail(0, 0, 'received non-2xx response code: 404')], 0)).toEqual({ retry: false, waitMs: 0, message: 'retryStrategy.expression evaluated to false' });
  });

  it('refuses a retryStrategy without a limit (Argo would retry forever)', () => {
    expect(() => new RetryPolicy({ retryPolicy: 'Always' }, 'spec.templates[3].retryStrategy')).toThrow('spec.templates[3].retryStrategy.limit: the local runner needs a retry limit');
  });
});
