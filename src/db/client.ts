import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import { lockDataFolder } from './data-folder-lock.js';
import * as schema from './schema.js';

/** What repositories work with: the database or a transaction on it (same API). */
export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  kind: 'pglite' | 'postgres';
  /** Applies the migrations in drizzle/ that have not run yet. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));

/**
 * PGlite in `dataDir` (a folder, kept across restarts, locked for this process) or in memory
 * when `dataDir` is null.
 */
/** Options of a connection: `onQuery` sees every statement (the benchmarks count round trips with it). */
export interface OpenOptions {
  onQuery?: (query: string) => void;
  /** The embedded database's shared_buffers in MB (default 16: an idle Roster stays small). */
  sharedBuffersMb?: number;
}

const queryLogger = (options: OpenOptions) => (options.onQuery ? { logQuery: options.onQuery } : false);

export async function openPglite(dataDir: string | null, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const unlock = dataDir === null ? () => {} : lockDataFolder(path.dirname(dataDir));
  try {
    if (dataDir !== null) fs.mkdirSync(dataDir, { recursive: true });
    const client = await PGlite.create({
      dataDir: dataDir ?? undefined,
      extensions: { pg_trgm },
      startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${options.sharedBuffersMb ?? 16}MB`],
    });
    const db = drizzlePglite({ client, schema, logger: queryLogger(options) });
    return {
      db: db as unknown as Database,
      kind: 'pglite',
      migrate: () => migratePglite(db, { migrationsFolder }),
      close: async () => {
        await client.close();
        unlock();
      },
    };
  } catch (error) {
    unlock();
    throw error;
  }
}

export function openPostgres(url: string, options: OpenOptions & { max?: number } = {}): DatabaseHandle {
  const client = postgres(url, { max: options.max ?? 10, onnotice: () => {} });
  const db = drizzlePostgres({ client, schema, logger: queryLogger(options) });
  return {
    db: db as unknown as Database,
    kind: 'postgres',
    migrate: () => migratePostgres(db, { migrationsFolder }),
    close: () => client.end({ timeout: 5 }),
  };
}

/** The embedded database's own folder inside the data folder (which also holds secret.key). */
export const pgliteDir = (dataDir: string) => path.join(dataDir, 'pglite');

export async function openDatabase(
  config: { databaseUrl?: string | undefined; dataDir: string; pgliteSharedBuffersMb?: number },
  options: OpenOptions = {},
): Promise<DatabaseHandle> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, options);
  return openPglite(pgliteDir(config.dataDir), { sharedBuffersMb: config.pgliteSharedBuffersMb, ...options });
}
