// The gateway's pure parts: circuit breaker transitions, Bearer checks, raw-mode parsing, the
// mapping of Fastify's own errors.
import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { CircuitBreaker, type CircuitState } from '../../services/gateway/circuit-breaker.js';
import { bearerChecker } from '../../services/gateway/auth.js';
import { parseOps, rawFilter, rawResize } from '../../services/gateway/raw-mode.js';
import { GatewayError, fromGrpc, httpStatusOf, toGatewayError } from '../../services/gateway/errors.js';

describe('CircuitBreaker', () => {
  const make = () => {
    let now = 0;
    const states: CircuitState[] = [];
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1000, now: () => now, onStateChange: (s) => states.push(s) });
    return { breaker, states, tick: (ms: number) => (now += ms) };
  };

  it('opens after consecutive failures, refuses while open, half-opens after openMs', () => {
    const { breaker, states, tick } = make();
    breaker.tryAcquire()!.failure();
    breaker.tryAcquire()!.failure();
    breaker.tryAcquire()!.success(); // resets the count
    for (let i = 0; i < 3; i++) breaker.tryAcquire()!.failure();
    expect(breaker.state).toBe('open');
    expect(breaker.tryAcquire()).toBeUndefined();
    expect(breaker.retryAfterMs()).toBe(1000);
    tick(999);
    expect(breaker.tryAcquire()).toBeUndefined();
    tick(1);
    expect(breaker.state).toBe('half-open');
    const probe = breaker.tryAcquire()!;
    expect(probe).toBeDefined();
    expect(breaker.tryAcquire(), 'one probe at a time').toBeUndefined();
    probe.success();
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['open', 'half-open', 'closed']);
  });

  it('a failed probe opens the circuit again; neutral outcomes count for nothing', () => {
    const { breaker, tick } = make();
    for (let i = 0; i < 3; i++) breaker.tryAcquire()!.failure();
    tick(1000);
    breaker.tryAcquire()!.failure();
    expect(breaker.state).toBe('open');
    tick(1000);
    breaker.tryAcquire()!.neutral();
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBeDefined();
  });
});

describe('bearerChecker', () => {
  const check = bearerChecker(['alpha-key', 'beta-key-longer']);
  it('accepts any configured key and refuses the rest with UNAUTHENTICATED', () => {
    expect(() => check('Bearer alpha-key')).not.toThrow();
    expect(() => check('bearer beta-key-longer')).not.toThrow();
    for (const bad of [undefined, '', 'Bearer', 'Bearer alpha', 'Bearer alpha-key2', 'Basic alpha-key', 'alpha-key']) {
      expect(() => check(bad), String(bad)).toThrow(GatewayError);
      try {
        check(bad);
      } catch (err) {
        expect((err as GatewayError).httpStatus).toBe(401);
      }
    }
  });
});

describe('raw mode', () => {
  it('parses ops lists', () => {
    expect(parseOps('blur:3, grayscale,brightness:1.2')).toEqual([{ type: 'blur', intensity: 3 }, { type: 'grayscale' }, { type: 'brightness', intensity: 1.2 }]);
    expect(() => parseOps('blur:x')).toThrow(/number/);
    expect(() => parseOps('blur:1:2')).toThrow(/type or type:intensity/);
    expect(() => rawFilter({ ops: 'sepia' })).toThrow(/query\.ops/);
    expect(() => rawFilter({})).toThrow(/ops is required/);
  });

  it('validates resize parameters with the contract schemas', () => {
    expect(rawResize({ width: 10, fit: 'cover', format: 'png' })).toEqual({ options: { width: 10, fit: 'cover' }, output: { format: 'png' } });
    expect(() => rawResize({})).toThrow(/width, height or both/);
    expect(() => rawResize({ width: 99_999 })).toThrow(/width/);
  });
});

describe('error mapping', () => {
  it('maps the gRPC codes of the contract', () => {
    expect(httpStatusOf(status.INVALID_ARGUMENT)).toBe(400);
    expect(httpStatusOf(status.ABORTED)).toBe(500);
    const busy = fromGrpc({ code: status.UNAVAILABLE, details: 'busy: 2 requests in progress' }, 'resize');
    expect([busy.httpStatus, busy.options.retryAfterS, busy.message]).toEqual([503, 1, 'resize is busy: 2 requests in progress']);
  });

  it("maps Fastify's body-limit and media-type errors", () => {
    expect(toGatewayError(Object.assign(new Error('too big'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).httpStatus).toBe(413);
    const mt = toGatewayError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }));
    expect([mt.httpStatus, mt.codeName]).toEqual([415, 'INVALID_ARGUMENT']);
    expect(toGatewayError(new Error('boom')).httpStatus).toBe(500);
  });
});
