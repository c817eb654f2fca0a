// With tracing off (initTracing never registered a provider in this process, as in every
// service started without OTEL_* variables) the per-request span code is skipped: the gateway's
// HTTP hooks are not registered and withSpan runs its function with a non-recording span. The
// same code with tracing on is covered by units.test.ts, observability.test.ts and
// tracing-e2e.test.ts, each in its own process.
import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { registerHttpTracing } from '../../services/shared/http-tracing.js';
import { tracingOn, withSpan } from '../../services/shared/tracing.js';

describe('tracing off', () => {
  it('withSpan runs the function with a span that records nothing, and passes results and errors through', async () => {
    expect(tracingOn()).toBe(false);
    let recording: boolean | undefined;
    const value = await withSpan('op', {}, async (span) => {
      recording = span.isRecording();
      span.setAttributes({ 'imageflow.bytes_in': 1 }); // callers may still annotate it
      return 42;
    });
    expect(value).toBe(42);
    expect(recording).toBe(false);
    await expect(withSpan('op', {}, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });

  it('registerHttpTracing adds no hooks to the app', async () => {
    const app = Fastify();
    const added: string[] = [];
    const addHook = app.addHook.bind(app);
    app.addHook = ((name: string, fn: never) => {
      added.push(name);
      return addHook(name as never, fn);
    }) as typeof app.addHook;
    registerHttpTracing(app);
    expect(added).toEqual([]);
    app.get('/x', async () => ({ ok: true }));
    const res = await app.inject({ method: 'GET', url: '/x', headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    expect(res.json()).toEqual({ ok: true });
    await app.close();
  });
});
