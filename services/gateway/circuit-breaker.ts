// A circuit breaker per upstream service. Closed: calls pass, consecutive failures are counted.
// Open (after `failureThreshold` of them): calls are refused at once for `openMs`. Half-open:
// one probe call passes; its success closes the circuit, its failure opens it again.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  readonly failureThreshold: number;
  readonly openMs: number;
  readonly onStateChange?: (state: CircuitState) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A permit to make one call; report how it went exactly once. */
export interface Permit {
  success(): void;
  failure(): void;
  /** The call ended in a way that says nothing about the upstream's health (e.g. a bad request). */
  neutral(): void;
}

export class CircuitBreaker {
  private stateValue: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.stateValue === 'open' && this.now() - this.openedAt >= this.options.openMs) this.transition('half-open');
    return this.stateValue;
  }

  /** Milliseconds until an open circuit lets a probe through (0 when not open). */
  retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.options.openMs - (this.now() - this.openedAt)) : 0;
  }

  /** A permit, or undefined when the circuit refuses the call. */
  tryAcquire(): Permit | undefined {
    const state = this.state;
    if (state === 'open') return undefined;
    const probe = state === 'half-open';
    if (probe) {
      if (this.probing) return undefined;
      this.probing = true;
    }
    let done = false;
    const finish = (outcome: 'success' | 'failure' | 'neutral') => {
      if (done) return;
      done = true;
      if (probe) this.probing = false;
      if (outcome === 'success') this.onSuccess();
      else if (outcome === 'failure') this.onFailure(probe);
    };
    return { success: () => finish('success'), failure: () => finish('failure'), neutral: () => finish('neutral') };
  }

  private onSuccess(): void {
    this.failures = 0;
    if (this.stateValue !== 'closed') this.transition('closed');
  }

  private onFailure(probe: boolean): void {
    this.failures++;
    if (probe || (this.stateValue === 'closed' && this.failures >= this.options.failureThreshold)) {
      this.openedAt = this.now();
      this.transition('open');
    }
  }

  private transition(state: CircuitState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.options.onStateChange?.(state);
  }
}
