import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { and, count, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/client.js';
import { DataFolderInUseError, lockDataFolder } from '../../src/db/data-folder-lock.js';
import { auditEvents, sessions, users } from '../../src/db/schema.js';
import { TestClient } from '../helpers/client.js';
import { expectElement } from '../helpers/html.js';
import { createTestApp, seedUser, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);

/** A client over real HTTP (fetch), keeping cookies and the last page's CSRF token. */
class HttpClient {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(private readonly base: string) {}

  async request(method: 'GET' | 'POST', url: string, form?: Record<string, string>) {
    const body = form ? new URLSearchParams({ _csrf: this.csrf, ...form }).toString() : undefined;
    const response = await fetch(this.base + url, {
      method,
      redirect: 'manual',
      body,
      headers: {
        cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
    });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const [name, value] = pair!.split('=');
      this.cookies.set(name!, value!);
    }
    const text = await response.text();
    const token = [...text.matchAll(/name="_csrf" value="([^"]+)"/g)].at(-1)?.[1];
    if (token) this.csrf = token;
    return { status: response.status, location: response.headers.get('location'), body: text };
  }
}

describe('nothing a request does stops the process', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    await seedUser(t.handle.db, 'crash-tester', USER_PASSWORD);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => t.close());

  it('survives the reported payloads in `next`, answering a safe redirect, over real HTTP', async () => {
    const client = new HttpClient(base);
    const anonymous = await client.request('GET', '/login?next=/%0d%0aX');
    expect(anonymous.status).toBe(200);
    expectElement(anonymous.body, '*', { name: 'next', value: '/' });
    // Valid credentials with a header-splitting `next`: the session is saved on this response.
    const login = await client.request('POST', '/login', {
      username: 'crash-tester',
      password: USER_PASSWORD,
      next: '/\r\n',
    });
    expect(login.status).toBe(303);
    expect(login.location).toBe('/');
    // A session idle for more than a minute is touched (saved) on its next request.
    t.clock.advance(2 * 60 * 1000);
    const touched = await client.request('GET', '/login?next=/%0d%0aX');
    expect(touched.status).toBe(303);
    expect(touched.location).toBe('/');
    for (const next of ['/%09/evil.example/x', '//evil.example', '/%5cevil.example', '/%E2%80%A8', '/%0bX']) {
      const redirect = await client.request('GET', `/login?next=${next}`);
      expect(redirect.location, next).toBe('/');
    }
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('an invalid header from any handler', () => {
  it('ends as a 500 for that request, and the same process answers the next one', async () => {
    const t = await createTestApp();
    const app = await buildApp({ config: t.config, db: t.handle.db });
    // A stored session, then a handler that changes it (so it is saved again, in the store's
    // callback) and sets a header Node refuses to write: the way the process used to stop.
    app.get('/test/session', { config: { public: true } }, async (request, reply) => {
      request.session.flash = { type: 'info', message: 'a stored session' };
      return reply.send('ok');
    });
    app.get('/test/bad-header', { config: { public: true } }, async (request, reply) => {
      request.session.flash = { type: 'info', message: 'saved again with this response' };
      return reply.header('X-Test', 'one\r\ntwo').send('never sent');
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    try {
      const first = await fetch(`${base}/test/session`);
      const cookie = first.headers.getSetCookie()[0]!.split(';')[0]!;
      const response = await fetch(`${base}/test/bad-header`, { headers: { cookie } });
      expect(response.status).toBe(500);
      expect(await response.text()).toContain('Something went wrong on our side');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
      await t.close();
    }
  });
});

describe('with the default settings', () => {
  // One app for the tests that need no settings of their own; each makes its own users and clients.
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('treats a control character in the user name as an ordinary failed login, audited; NUL is refused at the edge', async () => {
    const nul = new TestClient(t.app);
    await nul.get('/login');
    const refused = await nul.post('/login', { username: 'ad\u0000min', password: 'whatever it is' });
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('username must not contain a NUL character.');
    for (const username of ['admin\u0007', '\u001b[31madmin']) {
      const client = new TestClient(t.app);
      await client.get('/login');
      const response = await client.post('/login', { username, password: 'whatever it is' });
      expect(response.statusCode).toBe(401);
      expect(response.body).toContain('Invalid user name or password.');
      const [event] = await t.handle.db.select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(1);
      expect(event).toMatchObject({ action: 'authn_login_fail', outcome: 'failure', actorName: username });
      expect(event!.details).toMatchObject({ reason: 'unknown_user' });
    }
  });

  it('refuses the CSRF check for a login form from another site, without a session row', async () => {
    const [before] = await t.handle.db.select({ n: count() }).from(sessions);
    const forged = await t.app.inject({
      method: 'POST',
      url: '/login',
      payload: 'username=admin&password=x&_csrf=guess',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(forged.statusCode).toBe(403);
    const [after] = await t.handle.db.select({ n: count() }).from(sessions);
    expect(after!.n).toBe(before!.n);
  });
  it('stores no session row for anonymous visitors, however many', async () => {
    const [before] = await t.handle.db.select({ n: count() }).from(sessions);
    for (let i = 0; i < 50; i++) {
      const client = new TestClient(t.app);
      expect((await client.get('/login')).statusCode).toBe(200);
      expect((await client.get('/admin/users')).statusCode).toBe(303);
      expect(
        (await client.post('/login', { username: `nobody-${i}`, password: 'wrong password here' })).statusCode,
      ).toBe(401);
    }
    const [after] = await t.handle.db.select({ n: count() }).from(sessions);
    expect(after!.n).toBe(before!.n);
  });

  it('purges expired sessions when it starts (and every ten minutes)', async () => {
    const hour = 60 * 60 * 1000;
    await t.handle.db
      .insert(sessions)
      .values({ sid: 'long-gone', data: {}, expiresAt: new Date(t.clock.now() - hour) });
    await t.handle.db
      .insert(sessions)
      .values({ sid: 'still-valid', data: {}, expiresAt: new Date(t.clock.now() + hour) });
    const restarted = await buildApp({ config: t.config, db: t.handle.db });
    await restarted.ready();
    const left = (await t.handle.db.select({ sid: sessions.sid }).from(sessions)).map((row) => row.sid);
    expect(left).toContain('still-valid');
    expect(left).not.toContain('long-gone');
    await restarted.close();
  });

  it('marks every page of a logged-in session Cache-Control: no-store', async () => {
    const admin = await new TestClient(t.app).loginAsFirstAdmin();
    for (const url of ['/', '/admin/users', '/profile', '/admin/groups', '/admin/audit']) {
      expect((await admin.get(url)).headers['cache-control'], url).toBe('no-store');
    }
  });
});

/** Fails `user`'s login MAX_LOGIN_ATTEMPTS (5) times, `rounds` times over, moving the clock past each temporary lockout. */
async function reachTheLimit(t: TestApp, user: { id: string; username: string }, rounds: number) {
  for (let round = 0; round < rounds; round++) {
    for (let attempt = 0; attempt < 5; attempt++)
      await new TestClient(t.app).login(user.username, 'wrong password here');
    t.clock.advance(15 * 60 * 1000 + 1); // past the longest temporary lockout
  }
}

describe('deployment', () => {
  it('with COOKIE_SECURE, answers plain HTTP with a page that says what to set (health checks still pass)', async () => {
    const t = await createTestApp({ COOKIE_SECURE: 'true' });
    try {
      const page = await t.app.inject('/login');
      expect(page.statusCode).toBe(400);
      expect(page.body).toContain('configured for HTTPS');
      expect(page.body).toContain('set TRUST_PROXY');
      expect((await t.app.inject('/healthz')).statusCode).toBe(200);
      expect((await t.app.inject('/static/css/app.css')).statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('with TRUST_PROXY naming the proxy, X-Forwarded-* from anyone else is ignored', async () => {
    // The proxy is 10.0.0.2; this client connects from 127.0.0.1 and claims other addresses.
    const t = await createTestApp({ TRUST_PROXY: '10.0.0.2', LOGIN_RATE_LIMIT: '5' });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const client = new TestClient(t.app);
        await client.get('/login');
        const response = await client.post(
          '/login',
          { username: 'admin', password: 'wrong password here' },
          { 'x-forwarded-for': `203.0.113.${i}` },
        );
        statuses.push(response.statusCode);
      }
      expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
      expect(statuses.slice(5)).toEqual([429, 429, 429]);
      const ips = await t.handle.db
        .selectDistinct({ ip: auditEvents.ip })
        .from(auditEvents)
        .where(eq(auditEvents.action, 'authn_login_fail'));
      expect(ips).toEqual([{ ip: '127.0.0.1' }]);
      // From the proxy itself, the forwarded address is the client's.
      const viaProxy = await t.app.inject({
        url: '/login',
        remoteAddress: '10.0.0.2',
        headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' },
      });
      expect(viaProxy.statusCode).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('with a hop count, trusts that many hops (not every hop: the client cannot pick its address)', async () => {
    // The client wrote 203.0.113.9 itself; each proxy appended the address it was called from.
    // Trusting every hop (TRUST_PROXY=true) would take the leftmost, the client's own pick.
    const forwardedFor = '203.0.113.9, 192.0.2.50, 198.51.100.7';
    for (const [hops, expected] of [
      ['1', '198.51.100.7'],
      ['2', '192.0.2.50'],
    ] as const) {
      const t = await createTestApp({ TRUST_PROXY: hops, LOGIN_RATE_LIMIT: '10000' });
      try {
        const client = new TestClient(t.app);
        await client.get('/login');
        const response = await client.post(
          '/login',
          { username: 'admin', password: 'wrong password here' },
          { 'x-forwarded-for': forwardedFor },
        );
        expect(response.statusCode, `TRUST_PROXY=${hops}`).toBe(401);
        const events = await t.handle.db
          .select({ ip: auditEvents.ip })
          .from(auditEvents)
          .where(eq(auditEvents.action, 'authn_login_fail'));
        expect(events, `TRUST_PROXY=${hops}`).toEqual([{ ip: expected }]);
      } finally {
        await t.close();
      }
    }
  });

  it('never locks for good with LOCK_AFTER_TEMPORARY_LOCKOUTS=0', async () => {
    const t = await createTestApp({ LOCK_AFTER_TEMPORARY_LOCKOUTS: '0' });
    try {
      const user = await seedUser(t.handle.db, 'never-locked', USER_PASSWORD);
      await reachTheLimit(t, user, 6);
      const [row] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
      expect(row!.locked).toBe(false);
      expect(row!.lockoutCount).toBe(6);
      expect((await new TestClient(t.app).login('never-locked', USER_PASSWORD)).statusCode).toBe(303);
    } finally {
      await t.close();
    }
  });

  it('locks for good after the configured number of temporary lockouts', async () => {
    const t = await createTestApp({ LOCK_AFTER_TEMPORARY_LOCKOUTS: '1' });
    try {
      const user = await seedUser(t.handle.db, 'soon-locked', USER_PASSWORD);
      await reachTheLimit(t, user, 2);
      const [row] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
      expect(row!.locked).toBe(true);
      const [event] = await t.handle.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, 'authn_login_lock'), eq(auditEvents.targetId, user.id)));
      expect(event!.details).toMatchObject({ reason: '1 temporary lockouts' });
    } finally {
      await t.close();
    }
  });
});

describe('the embedded data folder', () => {
  it('is taken by one process: a second exits at once, naming the folder and the other process', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-lock-'));
    const handle = await openDatabase(loadConfig({ ROSTER_DATA_DIR: dataDir }));
    try {
      await expect(openDatabase(loadConfig({ ROSTER_DATA_DIR: dataDir }))).rejects.toThrow(DataFolderInUseError);
      const second = await run(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
        env: { ...process.env, ROSTER_DATA_DIR: dataDir, PORT: '0', DATABASE_URL: '' },
        timeout: 60_000,
      }).catch((e: { code: number; stderr: string }) => e);
      expect((second as { code: number }).code).toBe(1);
      const stderr = (second as { stderr: string }).stderr;
      expect(stderr).toContain(`The data folder ${dataDir} is in use by another Roster process (pid ${process.pid})`);
      expect(stderr).not.toMatch(/^\s+at /m); // a message, not a stack trace
    } finally {
      await handle.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('is taken over from a process that no longer runs, and given back on close', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-lock-'));
    try {
      fs.writeFileSync(path.join(dataDir, 'roster.lock'), '2147483646\n'); // no such process
      const release = lockDataFolder(dataDir);
      expect(fs.readFileSync(path.join(dataDir, 'roster.lock'), 'utf8')).toBe(`${process.pid}\n`);
      expect(() => lockDataFolder(dataDir)).toThrow(DataFolderInUseError); // not twice in one process either
      release();
      expect(fs.existsSync(path.join(dataDir, 'roster.lock'))).toBe(false);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('start-up settings', () => {
  it('stops on an unacceptable ROSTER_ADMIN_PASSWORD with the one-line message of any bad setting', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        ...process.env,
        ROSTER_ADMIN_PASSWORD: 'admin-admin-admin',
        DATABASE_URL: '',
        ROSTER_DATA_DIR: path.join(os.tmpdir(), 'roster-never-created'),
      },
      timeout: 60_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((result as { code: number }).code).toBe(1);
    const stderr = (result as { stderr: string }).stderr;
    expect(stderr).toContain(
      'Invalid configuration:\n  - ROSTER_ADMIN_PASSWORD is not acceptable: Password must not contain the user name.',
    );
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
