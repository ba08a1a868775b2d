import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import v8 from 'node:v8';
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

/** Options of a connection: `onQuery` sees every statement (the benchmarks count round trips with it). */
export interface OpenOptions {
  onQuery?: (query: string) => void;
  /** The embedded database's shared_buffers in MB (default 16: an idle Roster stays small). */
  sharedBuffersMb?: number;
  /**
   * Let V8 recompile the embedded database's hot WebAssembly with its optimizing compiler
   * (TurboFan). Off by default: the baseline code (Liftoff) answers 10–45 % fewer requests under
   * load (searches lose most) but keeps 80–90 MB of compiled code out of an idle process.
   */
  optimizeWasm?: boolean;
  /**
   * An in-memory database (`dataDir` null) starts from this dump of another (PGlite's
   * `dumpDataDir`) instead of running initdb: the tests start each database from one migrated
   * template, in a fifth of the time.
   */
  loadDataDir?: Blob;
}

const queryLogger = (options: OpenOptions) => (options.onQuery ? { logQuery: options.onQuery } : false);

const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');

// initdb grows PGlite's WebAssembly heap to ~750 MB, and that heap never shrinks: a first start
// that ran it in-process idled at twice the RSS of a restart. So a child process creates the
// cluster (in a sibling folder, renamed into place once whole) and exits, taking its heap along.
const createClusterScript = `
const [, entry, dataDir, startParams] = process.argv;
require(entry).PGlite.create({ dataDir, startParams: JSON.parse(startParams) })
  .then((db) => db.close())
  .catch((error) => { console.error(error); process.exit(1); });`;

async function createCluster(dataDir: string, startParams: string[]): Promise<void> {
  // An empty folder (made by hand, or left by an earlier Roster) is replaced; one holding files is not.
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new Error(
      `${dataDir} holds files but no database (no PG_VERSION): move them away or choose another ROSTER_DATA_DIR`,
    );
  }
  const creating = `${dataDir}.creating`;
  fs.rmSync(creating, { recursive: true, force: true });
  fs.mkdirSync(creating, { recursive: true });
  try {
    await promisify(execFile)(process.execPath, [
      '--liftoff-only',
      '-e',
      createClusterScript,
      pgliteEntry,
      creating,
      JSON.stringify(startParams),
    ]);
  } catch (error) {
    fs.rmSync(creating, { recursive: true, force: true });
    const output = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`could not create the embedded database in ${dataDir}${output ? `:\n${output}` : ''}`, {
      cause: error,
    });
  }
  if (fs.existsSync(dataDir)) fs.rmdirSync(dataDir); // empty: checked above
  fs.renameSync(creating, dataDir);
}

/**
 * PGlite in `dataDir` (a folder, kept across restarts, locked for this process) or in memory
 * when `dataDir` is null.
 */
export async function openPglite(dataDir: string | null, options: OpenOptions = {}): Promise<DatabaseHandle> {
  const unlock = dataDir === null ? () => {} : lockDataFolder(path.dirname(dataDir));
  try {
    const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${options.sharedBuffersMb ?? 16}MB`];
    if (dataDir !== null && !fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await createCluster(dataDir, startParams);
    // Read when the module compiles, so they apply to this database; process-wide, and the
    // embedded database is the only WebAssembly Roster runs. Set after start, V8 does not work
    // out a flag's implications, so the tiering flags --liftoff-only implies are set too.
    v8.setFlagsFromString(
      options.optimizeWasm
        ? '--no-liftoff-only --wasm-tier-up --wasm-dynamic-tiering'
        : '--liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering',
    );
    const client = await PGlite.create({
      dataDir: dataDir ?? undefined,
      loadDataDir: dataDir === null ? options.loadDataDir : undefined,
      extensions: { pg_trgm },
      startParams,
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

// Drizzle asks postgres.js not to prepare any statement not built with `.prepare(name)`
// (drizzle-orm#6096), and postgres.js then sends each statement with parameters in two round
// trips: Parse/Describe to learn the parameter types, then Bind/Execute. Prepared, a statement is
// described once per connection and then costs one round trip. This follows the client's own
// `prepare` option instead (on unless the URL says `?prepare=false`, e.g. for a PgBouncer that
// cannot keep prepared statements). postgres.js re-prepares a statement a migration has
// invalidated, and replaces its connections (with their statements) every 30–60 minutes.
function preparingStatements<T extends postgres.Sql>(sql: T, prepare: boolean): T {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (query: string, params?: postgres.ParameterOrJSON<never>[], options?: postgres.UnsafeQueryOptions) =>
          target.unsafe(query, params, { ...options, prepare });
      }
      // Transactions and savepoints hand their callback a client of their own: wrap that one too.
      if (property === 'begin' || property === 'savepoint') {
        const run = Reflect.get(target, property, receiver) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const callback = args.pop() as (client: postgres.Sql) => unknown;
          return Reflect.apply(run, target, [
            ...args,
            (client: postgres.Sql) => callback(preparingStatements(client, prepare)),
          ]);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

/** `max`: connections in the pool (`DATABASE_POOL_SIZE`). */
export function openPostgres(url: string, options: OpenOptions & { max: number }): DatabaseHandle {
  const client = postgres(url, {
    max: options.max,
    onnotice: () => {},
    // A prepared statement is still planned for its parameters on every run, as an unprepared one
    // is: after five runs Postgres may otherwise settle on a generic plan, and a generic plan
    // for `ilike $1` cannot tell a rare name from a common one (a search fell from 700 to 68 req/s).
    connection: { plan_cache_mode: 'force_custom_plan' },
  });
  const db = drizzlePostgres({
    client: preparingStatements(client, client.options.prepare),
    schema,
    logger: queryLogger(options),
  });
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
  config: {
    databaseUrl?: string | undefined;
    databasePoolSize: number;
    dataDir: string;
    pgliteSharedBuffersMb?: number;
    pgliteOptimizeWasm?: boolean;
  },
  options: OpenOptions = {},
): Promise<DatabaseHandle> {
  if (config.databaseUrl) return openPostgres(config.databaseUrl, { max: config.databasePoolSize, ...options });
  const embedded = { sharedBuffersMb: config.pgliteSharedBuffersMb, optimizeWasm: config.pgliteOptimizeWasm };
  return openPglite(pgliteDir(config.dataDir), { ...embedded, ...options });
}
