// The process settings the constructs derive for each container: the malloc arena bound on every
// Node process and the call limit sized from the container's CPU limit (not the node's cores).
import { readFileSync } from 'node:fs';
import { App, Chart } from 'cdk8s';
import * as kplus from 'cdk8s-plus-27';
import { describe, expect, it } from 'vitest';
import { ContainerImage, GrpcService, maxConcurrentCallsForCpu, NamespaceConfig } from '../../constructs/index.js';
import { SERVICE_PROCESS_ENV } from '../../services/shared/process-env.js';
import { container, env, synthPlatform } from './synth-helpers.js';

const ALL = ['imageflow-resize', 'imageflow-filter', 'imageflow-detection', 'imageflow-gateway'];
const GRPC = ['imageflow-resize', 'imageflow-filter', 'imageflow-detection'];

describe('MALLOC_ARENA_MAX', () => {
  const s = synthPlatform();
  it.each(ALL)('%s runs with MALLOC_ARENA_MAX=2', (name) => {
    expect(env(s.get('Deployment', name)).MALLOC_ARENA_MAX).toBe('2');
  });

  it.each(ALL)('%s starts with the environment the local launcher gives every service process (services/shared/process-env.ts)', (name) => {
    expect(env(s.get('Deployment', name))).toMatchObject(SERVICE_PROCESS_ENV);
  });

  it('is overridable through a service env', () => {
    const o = synthPlatform({ filter: { env: { MALLOC_ARENA_MAX: kplus.EnvValue.fromValue('4') } } });
    expect(env(o.get('Deployment', 'imageflow-filter')).MALLOC_ARENA_MAX).toBe('4');
    expect(env(o.get('Deployment', 'imageflow-resize')).MALLOC_ARENA_MAX).toBe('2');
  });
});

describe('MAX_CONCURRENT_CALLS from the CPU limit', () => {
  it('is max(2, callsPerCore × ceil(limit cores))', () => {
    expect([100, 500, 1000, 1500, 2000, 2001, 4000, 16000].map((m) => maxConcurrentCallsForCpu(m))).toEqual([2, 2, 2, 2, 2, 3, 4, 16]);
    expect([100, 1000, 1500, 2000, 4000].map((m) => maxConcurrentCallsForCpu(m, 2))).toEqual([2, 2, 4, 4, 8]);
    expect(maxConcurrentCallsForCpu(5_000_000)).toBe(1024);
  });

  it('defaults follow the default limits (1 CPU for resize/filter, 2 for detection)', () => {
    const s = synthPlatform();
    for (const name of GRPC) {
      const d = s.get('Deployment', name);
      const limit = String(container(d).resources.limits.cpu);
      expect({ name, limit }).toEqual({ name, limit: name === 'imageflow-detection' ? '2000m' : '1000m' });
      expect(env(d).MAX_CONCURRENT_CALLS).toBe('2');
    }
    // The gateway is not a gRPC service and has no call limiter.
    expect(env(s.get('Deployment', 'imageflow-gateway')).MAX_CONCURRENT_CALLS).toBeUndefined();
  });

  it('follows a raised CPU limit', () => {
    const s = synthPlatform({
      resize: { resources: { cpuLimitMillis: 4000 } },
      filter: { resources: { cpuRequestMillis: 1000, cpuLimitMillis: 2500 } },
      detection: { resources: { cpuLimitMillis: 8000 } },
    });
    // Resize and filter run two calls per core (IMAGE_CALLS_PER_CORE), detection one.
    expect(env(s.get('Deployment', 'imageflow-resize')).MAX_CONCURRENT_CALLS).toBe('8');
    expect(env(s.get('Deployment', 'imageflow-filter')).MAX_CONCURRENT_CALLS).toBe('6');
    expect(env(s.get('Deployment', 'imageflow-detection')).MAX_CONCURRENT_CALLS).toBe('8');
    expect(s.platform.resize.maxConcurrentCalls).toBe(8);
  });

  // Calls per core are stated twice: in each service's main.ts (its default when the variable is
  // unset) and in the constructs. This keeps the two the same.
  it.each(['resize', 'filter', 'detection'])("sizes %s's limit with the calls per core its main.ts defaults to", (service) => {
    const source = readFileSync(new URL(`../../services/${service}/main.ts`, import.meta.url), 'utf8');
    const stated = /\bcallsPerCore:\s*(\d+)/.exec(source);
    const callsPerCore = stated ? Number(stated[1]) : 1; // runServiceProcess's default
    const s = synthPlatform({ [service]: { resources: { cpuLimitMillis: 3000 } } });
    expect(env(s.get('Deployment', `imageflow-${service}`)).MAX_CONCURRENT_CALLS).toBe(String(Math.max(2, callsPerCore * 3)));
  });

  it('the maxConcurrentCalls prop wins over the derived value, and env wins over both', () => {
    const s = synthPlatform({
      resize: { resources: { cpuLimitMillis: 4000 }, maxConcurrentCalls: 1 },
      filter: { maxConcurrentCalls: 6, env: { MAX_CONCURRENT_CALLS: kplus.EnvValue.fromValue('3') } },
      detection: { env: { MAX_CONCURRENT_CALLS: kplus.EnvValue.fromValue('5') } },
    });
    expect(env(s.get('Deployment', 'imageflow-resize')).MAX_CONCURRENT_CALLS).toBe('1');
    expect(env(s.get('Deployment', 'imageflow-filter')).MAX_CONCURRENT_CALLS).toBe('3');
    expect(env(s.get('Deployment', 'imageflow-detection')).MAX_CONCURRENT_CALLS).toBe('5');
    // Each variable appears once in the container's env.
    for (const name of GRPC) {
      const names = container(s.get('Deployment', name)).env.map((e: any) => e.name);
      expect(names.filter((n: string) => n === 'MAX_CONCURRENT_CALLS')).toHaveLength(1);
    }
  });

  it('refuses a maxConcurrentCalls the service would refuse', () => {
    const chart = new Chart(new App(), 'c');
    const config = new NamespaceConfig(chart, 'Config');
    const image = ContainerImage.fromReference('ghcr.io/imageflow/resize:1');
    expect(() => new GrpcService(chart, 'A', { name: 'a', config, image, maxConcurrentCalls: 0 })).toThrow(/a: maxConcurrentCalls is 0: set it to an integer between 1 and 1024/);
    expect(() => new GrpcService(chart, 'B', { name: 'b', config, image, maxConcurrentCalls: 2.5 })).toThrow(/maxConcurrentCalls/);
  });
});
