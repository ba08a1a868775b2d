import crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import postgres from 'postgres';
import { inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { openPglite, openPostgres, type DatabaseHandle, type OpenOptions } from '../../src/db/client.js';
import { prepareDatabase } from '../../src/setup/first-start.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';
import { createUser } from '../../src/users/users-commands.js';
import { validateUser } from '../../src/users/user-validation.js';

export const ADMIN_PASSWORD = 'first-start-test-passphrase';
export const ADMIN_NEW_PASSWORD = 'the chosen new passphrase';
export const USER_PASSWORD = 'a long user password';

let pgliteTemplate: Blob | undefined;

/**
 * A clean database for one test file: a fresh in-memory PGlite, or — when TEST_DATABASE_URL
 * points at a PostgreSQL server — a database of its own there, dropped afterwards. Both start as
 * copies of the run's migrated template (database-template.ts).
 */
export async function createTestDatabase(
  options: OpenOptions & {
    max?: number;
    urlParameters?: Record<string, string>;
    /** Without even the migrations, as a first start finds it (not a copy of the template). */
    empty?: boolean;
  } = {},
): Promise<DatabaseHandle> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    if (options.empty) return openPglite(null, options);
    pgliteTemplate ??= new Blob([fs.readFileSync(inject('pgliteTemplate'))]);
    return openPglite(null, { loadDataDir: pgliteTemplate, ...options });
  }
  const name = `roster_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(
    options.empty ? `create database ${name}` : `create database ${name} template ${inject('postgresTemplate')}`,
  );
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  for (const [key, value] of Object.entries(options.urlParameters ?? {})) url.searchParams.set(key, value);
  const handle = openPostgres(url.toString(), { max: 5, ...options });
  return {
    ...handle,
    close: async () => {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/**
 * The app's clock in a test: starts at the real time and moves only when the test says so, so
 * TOTP steps, lockout windows and session expiry are set, never waited for or raced.
 */
export class TestClock {
  constructor(private ms = Date.now()) {}
  /** Epoch ms (pass it around as a function: it is bound). */
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
  /** Moves to `offsetSeconds` into the current 30-second TOTP step (away from its edges). */
  intoTotpStep(offsetSeconds: number): void {
    this.ms = Math.floor(this.ms / 30_000) * 30_000 + 30_000 + offsetSeconds * 1000;
  }
}

export interface TestApp {
  app: FastifyInstance;
  handle: DatabaseHandle;
  config: Config;
  clock: TestClock;
  close(): Promise<void>;
}

export async function createTestApp(
  env: Record<string, string> = {},
  options: { clock?: TestClock; onQuery?: (query: string) => void } = {},
): Promise<TestApp> {
  // Route tests log in far more often than a person; the rate limit has a test of its own.
  const config = loadConfig({
    ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    LOGIN_RATE_LIMIT: '10000',
    LOGIN_FAILURE_MIN_MS: '0', // the timing test sets its own
    API_RATE_LIMIT: '100000',
    ROSTER_SECRET_KEY: crypto.randomBytes(32).toString('base64'), // never a key file in ./data
    DIRECTORY_SYNC_SCHEDULER: 'false', // tests sync by hand (runDueSyncs) on their own clock
    ...env,
  });
  const handle = await createTestDatabase({ onQuery: options.onQuery });
  await prepareDatabase(handle, config);
  const clock = options.clock ?? new TestClock();
  const app = await buildApp({ config, db: handle.db, now: clock.now });
  await app.ready();
  return {
    app,
    handle,
    config,
    clock,
    close: async () => {
      await app.close();
      await handle.close();
    },
  };
}

/** A local user made directly through the users service (for tests about something else). */
export async function seedUser(db: DatabaseHandle['db'], username: string, password: string) {
  const input = validateUser({ username, password, realm: 'local' }, { mode: 'create', passwordMinLength: 12 });
  if (!input.ok) throw new Error(`bad fixture user ${username}: ${JSON.stringify(input.errors)}`);
  const created = await createUser(db, SYSTEM_ACTOR, input.user, input.password);
  if (!created.ok) throw new Error(`fixture user ${username} not created: ${created.problem.message}`);
  return created.value;
}
