import { defineConfig } from 'vitest/config';

// Integration tests attach real probes to the one kernel this machine has: files run one at a time.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // The end of a run lists every skip with its reason (a kernel that lacks a mechanism skips its
    // tests) and says when audit has been enabled since boot.
    reporters: ['default', './test/endReporter.ts'],
  },
});
