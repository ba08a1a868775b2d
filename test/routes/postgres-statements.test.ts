// How statements travel to the PostgreSQL server: prepared once per connection (one round trip
// per run instead of two), yet planned for their parameters on every run. PostgreSQL only: the
// embedded database has no network between Roster and it.
import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { groups, users } from '../../src/db/schema.js';
import { executedRows } from '../../src/db/sql-helpers.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/client.js';
import { createTestDatabase } from '../helpers/test-app.js';

async function preparedStatements(handle: DatabaseHandle): Promise<string[]> {
  const result = await handle.db.execute(sql`select statement from pg_prepared_statements`);
  return executedRows<{ statement: string }>(result).map((row) => row.statement);
}

async function runQueries(handle: DatabaseHandle) {
  const byName = (name: string) => handle.db.select({ id: users.id }).from(users).where(eq(users.username, name));
  await byName('nobody');
  await byName('somebody else');
  await handle.db.transaction(async (tx) => {
    await tx.select({ id: groups.id }).from(groups).where(eq(groups.name, 'in a transaction'));
  });
}

describe.skipIf(!process.env.TEST_DATABASE_URL)('statements on the PostgreSQL server', () => {
  it('prepares each statement once per connection, in and out of transactions, planned per run', async () => {
    const handle = await createTestDatabase({ max: 1 });
    try {
      await handle.migrate();
      await runQueries(handle);
      const statements = await preparedStatements(handle);
      expect(statements.filter((s) => s.includes('from "users" where "users"."username" = $1'))).toHaveLength(1);
      expect(statements.filter((s) => s.includes('from "groups" where "groups"."name" = $1'))).toHaveLength(1);
      // A generic plan for `ilike $1` cannot tell a rare search term from a common one.
      const [mode] = executedRows<{ plan_cache_mode: string }>(await handle.db.execute(sql`show plan_cache_mode`));
      expect(mode!.plan_cache_mode).toBe('force_custom_plan');
    } finally {
      await handle.close();
    }
  });

  it('prepares nothing when the database URL says prepare=false (a PgBouncer without prepared statements)', async () => {
    const handle = await createTestDatabase({ max: 1, urlParameters: { prepare: 'false' } });
    try {
      await handle.migrate();
      await runQueries(handle);
      expect(await preparedStatements(handle)).toEqual([]);
    } finally {
      await handle.close();
    }
  });

  it('opens as many connections as DATABASE_POOL_SIZE says, and no more', async () => {
    const config = loadConfig({ DATABASE_URL: process.env.TEST_DATABASE_URL, DATABASE_POOL_SIZE: '3' });
    const handle = await openDatabase(config);
    try {
      // Six statements at once, each holding its connection for a moment: three connections serve them.
      const backends = await Promise.all(
        Array.from({ length: 6 }, () => handle.db.execute(sql`select pg_backend_pid() as pid, pg_sleep(0.2)`)),
      );
      const pids = new Set(backends.map((result) => executedRows<{ pid: number }>(result)[0]!.pid));
      expect(pids.size).toBe(3);
    } finally {
      await handle.close();
    }
  });
});
