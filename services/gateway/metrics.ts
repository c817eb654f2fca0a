// Prometheus metrics of the gateway (prom-client), in a registry of its own so that several
// gateways can live in one process (tests, benchmarks).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { observeBufferPool } from '../shared/buffer-pool-metrics.js';
import type { CircuitState } from './circuit-breaker.js';

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'imageflow_gateway_http_request_duration_seconds',
    help: 'HTTP request duration by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly requests = new Counter({
    name: 'imageflow_gateway_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'imageflow_gateway_http_errors_total',
    help: 'HTTP requests that failed, by route and error code',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'imageflow_gateway_http_in_flight_requests',
    help: 'HTTP requests being served',
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'imageflow_gateway_upstream_call_duration_seconds',
    help: 'gRPC call duration (one attempt) by upstream service, method and status code',
    labelNames: ['upstream', 'method', 'code'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamRetries = new Counter({
    name: 'imageflow_gateway_upstream_retries_total',
    help: 'gRPC calls retried after UNAVAILABLE, by upstream service',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly circuitState = new Gauge({
    name: 'imageflow_gateway_circuit_breaker_state',
    help: 'Circuit breaker state per upstream service: 0 closed, 1 half-open, 2 open',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly circuitTransitions = new Counter({
    name: 'imageflow_gateway_circuit_breaker_transitions_total',
    help: 'Circuit breaker state changes per upstream service and new state',
    labelNames: ['upstream', 'state'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'imageflow_gateway_' });
  }

  /** The raw-body pool (../shared/buffer-pool.ts), read when scraped. */
  observeBufferPool(pool: { readonly retainedBytes: number; readonly reuses: number }): void {
    observeBufferPool(this.registry, 'imageflow_gateway_body_pool', 'request bodies', pool);
  }

  setCircuitState(upstream: string, state: CircuitState): void {
    this.circuitState.set({ upstream }, CIRCUIT_STATE_VALUE[state]);
    this.circuitTransitions.inc({ upstream, state });
  }
}
