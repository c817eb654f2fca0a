// retryStrategy as Argo's controller applies it (workflow/controller/operator.go,
// processNodeRetries), in the same order:
//   1. backoff.maxDuration: the deadline is the first attempt's start + maxDuration; past it, or
//      when the next wait would end past it, stop ("Max duration limit exceeded" /
//      "Backoff would exceed max duration limit").
//   2. the wait before retry n (n = attempts so far) is duration * factor^(n-1), capped by `cap`.
//   3. retryPolicy: Always retries failures and errors, OnFailure failures, OnError errors.
//   4. limit: at most `limit` retries, i.e. limit + 1 attempts ("No more retries left").
//   5. expression: evaluated with lastRetry.{status,message,exitCode,duration}; false stops
//      ("retryStrategy.expression evaluated to false").
import { Expression } from './expr.js';
import { parseDuration } from './duration.js';
import type { RetryStrategySpec } from './types.js';

export interface Attempt {
  readonly phase: 'Succeeded' | 'Failed' | 'Error';
  readonly message: string;
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface RetryDecision {
  readonly retry: boolean;
  /** Milliseconds to wait before the next attempt. */
  readonly waitMs: number;
  /** Why the node stopped, when it did (Argo's node message). */
  readonly message?: string;
}

export class RetryPolicy {
  private readonly limit: number;
  private readonly expression?: Expression;
  private readonly baseMs?: number;
  private readonly factor?: number;
  private readonly capMs?: number;
  private readonly maxMs?: number;

  constructor(
    private readonly strategy: RetryStrategySpec | undefined,
    field: string,
  ) {
    const s = strategy;
    // No limit means retry forever in Argo; the runner refuses that rather than hang.
    if (s && s.limit === undefined) throw new Error(`${field}.limit: the local runner needs a retry limit`);
    this.limit = s ? Number(s.limit) : 0;
    if (!Number.isInteger(this.limit) || this.limit < 0) throw new Error(`${field}.limit: "${s?.limit}" is not a whole number`);
    if (s?.expression) this.expression = Expression.parse(s.expression, `${field}.expression`);
    const b = s?.backoff;
    if (b) {
      if (!b.duration) throw new Error(`${field}.backoff.duration: no base duration specified for retryStrategy`);
      this.baseMs = parseDuration(b.duration, `${field}.backoff.duration`);
      if (b.factor !== undefined) {
        this.factor = Number(b.factor);
        // Argo reads factor as an int32 (intstr.Int32).
        if (!Number.isInteger(this.factor)) throw new Error(`${field}.backoff.factor: "${b.factor}" must be a whole number, as in Argo`);
      }
      if (b.cap) this.capMs = parseDuration(b.cap, `${field}.backoff.cap`);
      if (b.maxDuration) this.maxMs = parseDuration(b.maxDuration, `${field}.backoff.maxDuration`);
    }
  }

  /** Whether to try again after `attempts` (all failed so far, the last one just finished). */
  decide(attempts: readonly Attempt[], now = Date.now()): RetryDecision {
    const last = attempts[attempts.length - 1];
    const stop = (message: string): RetryDecision => ({ retry: false, waitMs: 0, message });
    if (!this.strategy) return stop(last.message);
    let waitMs = 0;
    if (this.baseMs !== undefined) {
      const deadline = this.maxMs !== undefined ? attempts[0].startedAt + this.maxMs : undefined;
      if (deadline !== undefined && now > deadline) return stop('Max duration limit exceeded');
      waitMs = this.baseMs;
      if (this.factor !== undefined && this.factor > 0) waitMs = this.baseMs * this.factor ** (attempts.length - 1);
      if (this.capMs !== undefined) waitMs = Math.min(waitMs, this.capMs);
      if (deadline !== undefined && last.finishedAt + waitMs > deadline) return stop('Backoff would exceed max duration limit');
      waitMs = Math.max(0, last.finishedAt + waitMs - now);
    }
    const policy = this.strategy.retryPolicy ?? 'OnFailure';
    const retriable = policy === 'Always' || (policy === 'OnFailure' ? last.phase === 'Failed' : last.phase === 'Error');
    if (!retriable) return stop(last.message);
    if (attempts.length > this.limit) return stop('No more retries left');
    if (this.expression) {
      const lastRetry = {
        status: last.phase,
        message: last.message,
        exitCode: '-1',
        duration: String(Math.round((last.finishedAt - last.startedAt) / 1000)),
      };
      if (this.expression.evaluate({ lastRetry }) !== true) return stop('retryStrategy.expression evaluated to false');
    }
    return { retry: true, waitMs };
  }
}
