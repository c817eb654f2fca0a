import { defineConfig } from 'vitest/config';

// Tests start real processes and servers on loopback; a 2-core machine needs generous timeouts,
// and suites run in separate forks so that sharp/tfjs state never leaks between them.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    typecheck: { enabled: true, include: ['tests/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
