import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['test/{unit,http,cli,fuzz}/**/*.test.ts'], testTimeout: 20_000 },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/harness/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // The chart proof (test/chart/README.md): helm and the third-party CRDs (pinned, cached) on
        // top of the e2e control plane, whose global setup runs first.
        test: {
          name: 'chart',
          include: ['test/chart/**/*.test.ts'],
          globalSetup: ['test/e2e/harness/global-setup.ts', 'test/chart/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // `npm run soak` (test/soak/run.mjs sets the duration and rate; the test sets its own timeout).
        test: {
          name: 'soak',
          include: ['test/soak/**/*.test.ts'],
          globalSetup: ['test/e2e/harness/global-setup.ts'],
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
      {
        // The kind cluster (test/kind/README.md): `hack/kind/offline.sh up` first and `down` after,
        // or a cluster already up with POD_IDENTITY_WEBHOOK_KIND_REUSE=1.
        test: {
          name: 'kind',
          include: ['test/kind/**/*.test.ts'],
          globalSetup: ['test/kind/global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
