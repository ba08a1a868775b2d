import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase, openPglite, pgliteDir } from '../../src/db/client.js';
import { groupPermissions, groups, groupSettings, userGroups, users } from '../../src/db/schema.js';
import { prepareDatabase } from '../../src/setup/first-start.js';
import { ADMIN_PASSWORD, createTestApp, createTestDatabase, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('first start', () => {
  it('seeds the system groups and the first admin in Administrators and All Users', async () => {
    const handle = await createTestDatabase({ empty: true }); // a database of its own, as a first start finds it
    await prepareDatabase(handle, loadConfig({ ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD }));
    const t = { handle };
    const seeded = await t.handle.db.select().from(groups).orderBy(groups.priority);
    expect(seeded.map((g) => [g.name, g.priority, g.isSystem])).toEqual([
      ['Administrators', 1, true],
      ['All Users', 1000, true],
    ]);
    const permissions = await t.handle.db.select().from(groupPermissions);
    expect(permissions.map((p) => p.permission).sort()).toEqual(['global_admin', 'user']);
    const [admin] = await t.handle.db.select().from(users).where(eq(users.username, 'admin'));
    expect(admin!.forcePasswordReset).toBe(true);
    const memberships = await t.handle.db.select().from(userGroups).where(eq(userGroups.userId, admin!.id));
    expect(memberships).toHaveLength(2);
    await handle.close();
  });

  it('generates a random password when none is configured, and seeds only once', async () => {
    const handle = await createTestDatabase();
    try {
      const config = loadConfig({ ROSTER_SECRET_KEY: crypto.randomBytes(32).toString('base64') });
      const first = await prepareDatabase(handle, config);
      expect(first?.username).toBe('admin');
      expect(first?.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const app = await buildApp({ config, db: handle.db });
      const client = new TestClient(app);
      expect((await client.login('admin', first!.generatedPassword!)).headers.location).toBe('/password-reset');
      await app.close();
      expect(await prepareDatabase(handle, config)).toBeNull();
      const [count] = await handle.db.select({ n: sql<number>`count(*)::int` }).from(users);
      expect(count!.n).toBe(1);
    } finally {
      await handle.close();
    }
  });

  it('seeds Administrators with require_2fa only when configured', async () => {
    expect(await t.handle.db.select().from(groupSettings)).toEqual([]);
    const handle = await createTestDatabase();
    try {
      await prepareDatabase(handle, loadConfig({ ROSTER_ADMINS_REQUIRE_2FA: 'true' }));
      const rows = await handle.db
        .select({ key: groupSettings.key, value: groupSettings.value, group: groups.name })
        .from(groupSettings)
        .innerJoin(groups, eq(groups.id, groupSettings.groupId));
      expect(rows).toEqual([{ key: 'require_2fa', value: true, group: 'Administrators' }]);
    } finally {
      await handle.close();
    }
  });

  it('refuses an unacceptable ROSTER_ADMIN_PASSWORD with a clear message', async () => {
    const handle = await createTestDatabase();
    try {
      await expect(prepareDatabase(handle, loadConfig({ ROSTER_ADMIN_PASSWORD: 'short' }))).rejects.toThrow(
        /ROSTER_ADMIN_PASSWORD is not acceptable: Password must be at least 12 characters/,
      );
    } finally {
      await handle.close();
    }
  });

  it('keeps the embedded database across restarts', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-data-'));
    try {
      const config = loadConfig({ ROSTER_DATA_DIR: dataDir });
      const first = await openDatabase(config);
      expect(await prepareDatabase(first, config)).not.toBeNull();
      await first.close();
      const second = await openDatabase(config);
      expect(await prepareDatabase(second, config)).toBeNull(); // the admin is still there
      const [admin] = await second.db.select().from(users).where(eq(users.username, 'admin'));
      expect(admin).toBeDefined();
      await second.close();
      expect(fs.existsSync(path.join(dataDir, 'pglite', 'PG_VERSION'))).toBe(true);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  // The cluster is created by a child process in pglite.creating, renamed into place when whole.
  it('leaves no half-made embedded database when creating it fails', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-data-'));
    try {
      await expect(openPglite(pgliteDir(dataDir), { sharedBuffersMb: 0 })).rejects.toThrow(
        `could not create the embedded database in ${pgliteDir(dataDir)}`,
      );
      expect(fs.readdirSync(dataDir)).toEqual([]);
      // The next start creates it afresh.
      const handle = await openPglite(pgliteDir(dataDir));
      await handle.close();
      expect(fs.readdirSync(dataDir)).toEqual(['pglite']);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000); // two embedded clusters created in child processes: slow on a busy 2-core machine

  it('creates the embedded database in an empty folder but refuses one holding other files', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-data-'));
    try {
      fs.mkdirSync(pgliteDir(dataDir));
      fs.writeFileSync(path.join(pgliteDir(dataDir), 'notes.txt'), 'not a database');
      await expect(openPglite(pgliteDir(dataDir))).rejects.toThrow(/holds files but no database/);
      expect(fs.readdirSync(pgliteDir(dataDir))).toEqual(['notes.txt']);

      fs.rmSync(path.join(pgliteDir(dataDir), 'notes.txt'));
      const handle = await openPglite(pgliteDir(dataDir));
      await handle.close();
      expect(fs.existsSync(path.join(pgliteDir(dataDir), 'PG_VERSION'))).toBe(true);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('server process', () => {
  it('exits with a clear message for a bad configuration value', async () => {
    const run = promisify(execFile);
    const error = await run(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: 'not-a-port', DATABASE_URL: '' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((error as { code: number }).code).toBe(1);
    expect((error as { stderr: string }).stderr).toContain(
      'PORT must be a whole number from 0 to 65535 (got "not-a-port")',
    );
  });
});

describe('infrastructure', () => {
  it('answers /healthz with the database status', async () => {
    const response = await t.app.inject('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', database: 'ok' });
  });

  it('sends a strict Content-Security-Policy and other security headers', async () => {
    const response = await t.app.inject('/login');
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(response.headers['x-frame-options']).toBe('DENY');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.body).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline scripts
    expect(response.body).not.toMatch(/\sstyle="/);
    expect(response.body).not.toMatch(/\son[a-z]+="/);
  });

  it('serves htmx and the stylesheet from our own origin without a login', async () => {
    const htmx = await t.app.inject('/static/vendor/htmx.min.js');
    expect(htmx.statusCode).toBe(200);
    expect(htmx.body).toContain('htmx');
    expect((await t.app.inject('/static/css/app.css')).statusCode).toBe(200);
    expect((await t.app.inject('/static/vendor/htmx.js')).statusCode).toBe(404);
  });

  it('uses Secure, __Host- cookies when configured for HTTPS', async () => {
    const secure = await createTestApp({ COOKIE_SECURE: 'true', TRUST_PROXY: '127.0.0.1' });
    try {
      const https = { 'x-forwarded-proto': 'https' };
      const client = new TestClient(secure.app);
      const page = await client.get('/login', https);
      expect(String(page.headers['set-cookie'])).toMatch(
        /^__Host-roster_csrf=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
      expect(page.headers['strict-transport-security']).toBe('max-age=31536000');
      const login = await client.post('/login', { username: 'admin', password: ADMIN_PASSWORD }, https);
      expect(login.statusCode).toBe(303);
      expect(String(login.headers['set-cookie'])).toMatch(
        /^__Host-roster_session=.*; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
      );
    } finally {
      await secure.close();
    }
  });

  it('shows a 404 page for unknown pages', async () => {
    const admin = await new TestClient(t.app).loginAsFirstAdmin();
    const response = await admin.get('/no/such/page');
    expect(response.statusCode).toBe(404);
    expect(response.body).toContain('Page not found');
  });
});
