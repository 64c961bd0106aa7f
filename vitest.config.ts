import { defineConfig } from 'vitest/config'

// Projects kept apart by file name: x.test.ts (unit, no I/O), x.int.test.ts (real PostgreSQL),
// x.e2e.test.ts (whole pipeline as child processes; bench/'s smoke test is a project of its own).
// Integration, e2e and bench share one global setup that starts the embedded PostgreSQL (or uses
// TPIPE_TEST_DATABASE_URL); each test file gets its own database.

/** The e2e and bench projects: whole services as child processes, one file at a time. */
const processes = {
  globalSetup: ['test/support/global-setup.ts'],
  testTimeout: 600_000,
  hookTimeout: 180_000,
  fileParallelism: false,
}

export default defineConfig({
  test: {
    reporters: ['default', './scripts/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'commands/**/*.test.ts', 'scripts/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/*.e2e.test.ts', '**/*.k8s.test.ts', 'node_modules/**', 'dist/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['src/**/*.int.test.ts', 'commands/**/*.int.test.ts', 'test/**/*.int.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores: files in parallel would fight over the CPU and PostgreSQL and make timings noisy.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['src/**/*.e2e.test.ts', 'test/**/*.e2e.test.ts'],
          ...processes,
        },
      },
      {
        // The benchmark smoke test (`npm run test:bench`, ~2.5 min): every suite runs once with tiny sizes.
        // Apart from `npm test` so that stays under ~15 minutes on 2 shared cores; .ci/run runs both.
        test: {
          name: 'bench',
          include: ['bench/**/*.e2e.test.ts'],
          ...processes,
        },
      },
      {
        // The Kubernetes layer (`npm run test:k8s`, needs root): the rendered charts run as their pods
        // would, in network namespaces, against a real PostgreSQL and Prometheus (test/k8s).
        test: {
          name: 'k8s',
          include: ['test/**/*.k8s.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
})
