import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each test file builds its own app on its own fresh database (see test/helpers/test-app.ts).
    isolate: true,
  },
});
