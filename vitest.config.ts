import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One migrated database that every test database is copied from.
    globalSetup: ['test/helpers/database-template.ts'],
    pool: 'forks',
    // Vitest's default is one worker per core but one: a single worker on a 2-core machine.
    // Test files wait on databases and Chromium much of the time, so two share the cores well.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each test file builds its own app on its own fresh database (see test/helpers/test-app.ts).
    isolate: true,
  },
});
