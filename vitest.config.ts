import { defineConfig } from 'vitest/config';

/**
 * The HTTP suites that exercise the store, run a second time on MongoDB through the mingo double
 * (docs/mongodb.md "What CI proves"): the `mongodb-double` project provides `testStore`, which
 * test/support/all-in-one.ts reads with `inject`.
 */
const MONGODB_DOUBLE_SUITES = [
  ...[
    'log-list',
    'log-export',
    'log-stats',
    'log-cleanup',
    'log-ingest',
    'isolation',
    'postman-collection',
    'role-matrix',
    'integrity',
    'export-manifest',
    'idempotency',
    'retention',
  ].map((name) => `services/all-in-one/test/${name}.test.ts`),
  ...['injection', 'isolation', 'fuzz', 'unicode-search'].map((name) => `test/hostile/${name}.test.ts`),
];

const ALL_SUITES = ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts', 'scripts/**/*.test.ts'];

/**
 * The files that keep both cores busy for a long while (100 000-event streams and exports, the
 * sealing and throughput runs, the browser, the pipeline's crash timing). `make test` runs them one at
 * a time, after the other files, which it runs two at a time (the projects without `-serial`):
 * those mostly wait on the processes they start, and a second file overlaps that waiting, while
 * two of these side by side only slow each other past their timeouts on a 2-core machine.
 */
const SERIAL_SUITES = [
  'services/log/test/routes/stream-resume.test.ts',
  'packages/client/test/cli.test.ts',
  'packages/client/test/live-stream-resume.test.ts',
  'services/all-in-one/test/docs-try-it-out.test.ts',
  'services/all-in-one/test/log-list.test.ts',
  'packages/console/test/console.e2e.test.ts',
  'packages/shared/test/integrity/sealing.test.ts',
  'packages/shared/test/mongo/sealing.test.ts',
  'test/pipeline/analytics-sink.test.ts',
  'test/pipeline/throughput.test.ts',
  'test/pipeline/worker-crash.test.ts',
  'test/pipeline/idempotency.test.ts',
  'test/hostile/export-exhaustion.test.ts',
  'test/hostile/fuzz.test.ts',
];

declare module 'vitest' {
  export interface ProvidedContext {
    /** Which store test/support/all-in-one.ts starts the server on: the project's. */
    testStore: 'sqlite' | 'mongodb-double';
  }
}

export default defineConfig({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The AWS SDK's notice that its 2027 releases need Node 22 printed once per test process (and per
    // service the tests start, which inherit this); the README states the Node version we support.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    // One run, one report for both projects: scripts/test-summary.mjs prints its `N passed, N failed`.
    // make test runs vitest twice (see SERIAL_SUITES), each with its own report (VITEST_REPORT).
    reporters: ['default', ['json', { outputFile: process.env.VITEST_REPORT ?? '.vitest-report.json' }]],
    projects: [
      { extends: true, test: { name: 'sqlite', include: ALL_SUITES, exclude: SERIAL_SUITES, provide: { testStore: 'sqlite' } } },
      {
        extends: true,
        test: { name: 'mongodb-double', include: MONGODB_DOUBLE_SUITES, exclude: SERIAL_SUITES, provide: { testStore: 'mongodb-double' } },
      },
      { extends: true, test: { name: 'sqlite-serial', include: SERIAL_SUITES, provide: { testStore: 'sqlite' } } },
      {
        extends: true,
        test: {
          name: 'mongodb-double-serial',
          include: MONGODB_DOUBLE_SUITES.filter((suite) => SERIAL_SUITES.includes(suite)),
          provide: { testStore: 'mongodb-double' },
        },
      },
    ],
  },
});
