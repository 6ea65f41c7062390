import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const ALL = ['lambdas/**/*.test.ts', 'lib/**/*.test.ts', 'local/**/*.test.ts', 'client/**/*.test.ts', 'test/**/*.test.ts', 'ops/**/*.test.ts', 'bench/**/*.test.ts'];
// Suites that load the whole machine on purpose (a 60 s fault soak, a 10 MB flood, a fuzz of
// 10,000 frames) and measure it against deadlines: they run last, one at a time.
const ALONE = ['test/e2e/soak.test.ts', 'test/e2e/hardening.test.ts'];

/**
 * The end-to-end suites start first. They run longest and mostly wait on sockets, quotas and
 * JVMs; vitest orders a run without its cache (CI's fresh clone) by file size, and a small, long
 * suite that starts last becomes the run's tail. With the cache, each group keeps vitest's own
 * order: failed first, then longest first.
 */
class EndToEndFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const endToEnd = (spec: TestSpecification) => (spec.moduleId.includes('/test/e2e/') ? 0 : 1);
    // Array sort is stable: within the same group order and kind, vitest's order stands.
    return (await super.sort(files)).sort(
      (a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || endToEnd(a) - endToEnd(b),
    );
  }
}

export default defineConfig({
  test: {
    sequence: { sequencer: EndToEndFirst },
    // DynamoDB Local is a JVM: wire and end-to-end suites need time to start it on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      // Two files at a time on 2 cores: the e2e suites wait on sockets and JVMs as much as they compute.
      { extends: true, test: { name: 'suite', include: ALL, exclude: ALONE, maxWorkers: 2, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
