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
    reporters: ['default', ['json', { outputFile: '.vitest-report.json' }]],
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'test/**/*.test.ts', 'scripts/**/*.test.ts'],
          provide: { testStore: 'sqlite' },
        },
      },
      { extends: true, test: { name: 'mongodb-double', include: MONGODB_DOUBLE_SUITES, provide: { testStore: 'mongodb-double' } } },
    ],
  },
});
