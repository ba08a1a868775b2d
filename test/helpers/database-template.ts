// Vitest global setup: one migrated template database for the whole run. Every test database
// starts as a copy of it (test-app.ts) instead of running initdb and the migrations again: an
// embedded one loads a dump of it (~0.6 s instead of ~3.5 s), a PostgreSQL one is created with
// `template` (no migrations to run). Migrations still run on each copy and find nothing to do,
// and the tests of a first start (app.test.ts) and of the data folder open databases of their own.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';
import { openPostgres } from '../../src/db/client.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A file holding the dump of a migrated embedded database. */
    pgliteTemplate: string;
    /** With TEST_DATABASE_URL: the name of a migrated database there to create test databases from. */
    postgresTemplate: string | null;
  }
}

const migrationsFolder = path.resolve(import.meta.dirname, '../../drizzle');

async function pgliteTemplate(file: string): Promise<void> {
  const client = await PGlite.create({ extensions: { pg_trgm } });
  await migrate(drizzle({ client }), { migrationsFolder });
  const dump = await client.dumpDataDir('none');
  await client.close();
  fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
}

export default async function setup(project: TestProject) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-template-'));
  const dumpFile = path.join(dir, 'pglite.tar');
  await pgliteTemplate(dumpFile);
  project.provide('pgliteTemplate', dumpFile);

  const serverUrl = process.env.TEST_DATABASE_URL;
  let template: string | null = null;
  let admin: postgres.Sql | null = null;
  if (serverUrl) {
    template = `roster_template_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
    admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${template}`);
    const url = new URL(serverUrl);
    url.pathname = `/${template}`;
    const handle = openPostgres(url.toString(), { max: 1 });
    await handle.migrate();
    await handle.close(); // a template must have no connections while databases are copied from it
  }
  project.provide('postgresTemplate', template);

  return async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (admin && template) {
      await admin.unsafe(`drop database if exists ${template} with (force)`);
      await admin.end();
    }
  };
}
