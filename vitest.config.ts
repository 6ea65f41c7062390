import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['lambdas/**/*.test.ts', 'lib/**/*.test.ts', 'local/**/*.test.ts', 'client/**/*.test.ts', 'test/**/*.test.ts', 'ops/**/*.test.ts', 'bench/**/*.test.ts'],
    // DynamoDB Local is a JVM: wire and end-to-end suites need time to start it on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
