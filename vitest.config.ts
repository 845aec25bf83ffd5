import { defineConfig } from 'vitest/config';

// Tests run as root on real files, mounts, loop devices and tools. Many of them spawn processes
// and wait on I/O, so they get long time-outs; timing is never asserted.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    globalSetup: ['test/global-setup.ts'],
  },
});
