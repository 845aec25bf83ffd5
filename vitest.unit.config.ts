import { defineConfig } from 'vitest/config';

// The fast lane (npm run test:unit): *.unit.test.ts files test pure code (parsers, the schema, planning,
// rendering, the layering rules) straight from src/, with no build, no root and no network.
export default defineConfig({
  test: {
    include: ['test/**/*.unit.test.ts'],
    testTimeout: 60_000,
    reporters: ['default'],
  },
});
