import argon2 from 'argon2';
import { and, desc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditEvents, sessions, users } from '../../src/db/schema.js';
import { ADMIN_NEW_PASSWORD, ADMIN_PASSWORD, createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { expectElement } from '../helpers/html.js';
import { fixtures, reasonOf } from '../helpers/factories.js';

let t: TestApp;
let admin: TestClient;
const PASSWORD = USER_PASSWORD;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { createUser, lastAudit } = fixtures(
  () => t,
  () => admin,
);

describe('login', () => {
  it('shows the login form to anonymous visitors and sends them back after login', async () => {
    const client = new TestClient(t.app);
    const page = await client.get('/admin/users?q=x');
    expect(page.statusCode).toBe(303);
    expect(page.headers.location).toBe('/login?next=%2Fadmin%2Fusers%3Fq%3Dx');
    const form = await client.get(page.headers.location!);
    expect(form.body).toContain('<label for="f-username">User Name');
    expectElement(form.body, '*', { name: 'next', value: '/admin/users?q=x' });
    const login = await client.post('/login', {
      username: 'ADMIN',
      password: ADMIN_NEW_PASSWORD,
      next: '/admin/users?q=x',
    });
    expect(login.statusCode).toBe(303);
    expect(login.headers.location).toBe('/admin/users?q=x');
  });

  it('never redirects to another site after login', async () => {
    const client = new TestClient(t.app);
    await client.get('/login');
    const login = await client.post('/login', {
      username: 'admin',
      password: ADMIN_NEW_PASSWORD,
      next: '//evil.example/',
    });
    expect(login.headers.location).toBe('/');
  });

  it('gives unknown user, wrong password, locked and disabled the same answer, and audits the reason', async () => {
    const locked = await createUser('locked-user', { locked: 'true' });
    const disabled = await createUser('disabled-user', { disabled: 'true' });
    const normal = await createUser('normal-user');
    const attempts = [
      { username: 'nobody-here', reason: 'unknown_user', id: null },
      { username: 'normal-user', password: 'wrong password!!', reason: 'bad_password', id: normal.id },
      { username: 'locked-user', reason: 'locked', id: locked.id },
      { username: 'disabled-user', reason: 'disabled', id: disabled.id },
    ];
    const bodies = new Set<string>();
    // Every path costs exactly one argon2 verification (a dummy hash for unknown users), so the
    // time an answer takes tells nothing either: counted on the module the app calls.
    const verify = vi.spyOn(argon2, 'verify');
    try {
      for (const attempt of attempts) {
        const client = new TestClient(t.app);
        await client.get('/login');
        verify.mockClear();
        const response = await client.post('/login', {
          username: attempt.username,
          password: attempt.password ?? PASSWORD,
        });
        expect(verify, attempt.reason).toHaveBeenCalledTimes(1);
        expect(response.statusCode).toBe(401);
        expect(response.body).toContain('Invalid user name or password.');
        bodies.add(response.body.replaceAll(client.csrf, '').replace(/value="[^"]*"/g, ''));
        expect(await reasonOf(await lastAudit('authn_login_fail', attempt.id))).toBe(attempt.reason);
      }
    } finally {
      verify.mockRestore();
    }
    expect(bodies.size).toBe(1); // identical pages apart from the echoed user name
  });

  it('rotates the session id at login, so the pre-login cookie is not authenticated', async () => {
    const client = new TestClient(t.app);
    await client.get('/login');
    // An anonymous visitor has no session; a message for one (an expired 2FA step) makes one.
    expect(client.cookies.get('roster_session')).toBeUndefined();
    await client.post('/login/code', { code: '000000' });
    const before = client.cookies.get('roster_session');
    expect(before).toBeDefined();
    await createUser('rotating-user');
    await client.get('/login');
    await client.post('/login', { username: 'rotating-user', password: PASSWORD });
    const after = client.cookies.get('roster_session');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    const attacker = new TestClient(t.app);
    attacker.cookies.set('roster_session', before!);
    expect((await attacker.get('/')).headers.location).toBe('/login');
    expect((await client.get('/')).statusCode).toBe(200);
  });

  it('sets HttpOnly and SameSite on the session cookie', async () => {
    await createUser('cookie-user');
    const client = new TestClient(t.app);
    await client.get('/login');
    const response = await client.post('/login', { username: 'cookie-user', password: PASSWORD });
    const cookie = String(response.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
    expect(cookie).not.toMatch(/Secure/);
  });

  it('records Last Session at each successful login and audits it', async () => {
    expect((await createUser('last-session-user')).lastSession).toBeNull();
    const client = new TestClient(t.app);
    await client.login('last-session-user', PASSWORD);
    const [user] = await t.handle.db.select().from(users).where(eq(users.username, 'last-session-user'));
    expect(user!.lastSession!.getTime()).toBe(t.clock.now());
    const [event] = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'authn_login_success'), eq(auditEvents.targetId, user!.id)));
    expect(event).toBeDefined();
    expect(JSON.stringify(event)).not.toContain(PASSWORD);
  });

  it('rehashes a password stored with weaker parameters at login', async () => {
    const user = await createUser('weak-hash');
    const weak = await argon2.hash(PASSWORD, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await t.handle.db.update(users).set({ passwordHash: weak }).where(eq(users.id, user.id));
    const response = await new TestClient(t.app).login('weak-hash', PASSWORD);
    expect(response.statusCode).toBe(303);
    const [after] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
    expect(after!.passwordHash).toMatch(/m=19456,p=1,t=2/);
  });

  it('logs out by destroying the server-side session', async () => {
    await createUser('logout-user');
    const client = new TestClient(t.app);
    await client.login('logout-user', PASSWORD);
    await client.get('/');
    const cookie = client.cookies.get('roster_session')!;
    const out = await client.post('/logout');
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login');
    const login = await client.get('/login');
    expectElement(
      login.body,
      'p',
      { class: 'flash flash-success', role: 'status' },
      { only: true, text: 'You have been logged out.' },
    );
    expect(client.cookies.get('roster_session')).not.toBe(cookie); // a new, anonymous session
    expect((await client.get('/login')).body).not.toContain('You have been logged out.'); // said once
    const replay = new TestClient(t.app);
    replay.cookies.set('roster_session', cookie);
    expect((await replay.get('/')).headers.location).toBe('/login');
  });
});

describe('brute-force protection', () => {
  it('locks out after 5 consecutive failures, even with the right password', async () => {
    const user = await createUser('target-five');
    const client = new TestClient(t.app);
    for (let i = 0; i < 5; i++) {
      await client.get('/login');
      expect(
        (await client.post('/login', { username: 'target-five', password: `wrong guess ${i}!!` })).statusCode,
      ).toBe(401);
    }
    await client.get('/login');
    const right = await client.post('/login', { username: 'target-five', password: PASSWORD });
    expect(right.statusCode).toBe(401);
    expect(right.body).toContain('Invalid user name or password.');
    expect(await reasonOf(await lastAudit('authn_login_fail', user.id))).toBe('temporarily_locked_out');
    const [after] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
    expect(after!.lockedUntil!.getTime() - t.clock.now()).toBe(60_000);

    // One minute later the right password works again and the counters reset.
    t.clock.advance(59_000);
    expect((await client.login('target-five', PASSWORD)).statusCode).toBe(401);
    t.clock.advance(1_001);
    expect((await client.login('target-five', PASSWORD)).statusCode).toBe(303);
    const [reset] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
    expect(reset).toMatchObject({ failedLoginCount: 0, lockoutCount: 0, lockedUntil: null });
  });

  it('does not let 20 parallel wrong passwords slip past the limit', async () => {
    const user = await createUser('target-parallel');
    const clients = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const client = new TestClient(t.app, `10.0.0.${i + 1}`);
        await client.get('/login');
        return client;
      }),
    );
    await Promise.all(
      clients.map((c, i) => c.post('/login', { username: 'target-parallel', password: `parallel guess ${i}` })),
    );
    const verified = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.targetId, user.id), sql`${auditEvents.details}->>'reason' = 'bad_password'`));
    expect(verified).toHaveLength(5);
    const [after] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
    expect(after!.lockoutCount).toBe(1);
    expect(after!.lockedUntil).not.toBeNull();
    expect((await new TestClient(t.app).login('target-parallel', PASSWORD)).statusCode).toBe(401);
  });

  it('sets Locked after three temporary lockouts, and ends the sessions', async () => {
    const user = await createUser('target-locked');
    const victim = new TestClient(t.app);
    await victim.login('target-locked', PASSWORD);
    const attacker = new TestClient(t.app);
    for (let round = 1; round <= 4; round++) {
      for (let i = 0; i < 5; i++) {
        await attacker.get('/login');
        await attacker.post('/login', { username: 'target-locked', password: `round ${round} guess ${i}` });
      }
      const [now] = await t.handle.db.select().from(users).where(eq(users.id, user.id));
      if (round <= 3) {
        expect(now!.locked).toBe(false);
        const wait = now!.lockedUntil!.getTime() - t.clock.now();
        expect(wait).toBe(60_000 * 2 ** (round - 1)); // 1, 2, 4 minutes
        t.clock.advance(wait + 1);
      } else {
        expect(now!.locked).toBe(true);
      }
    }
    expect((await victim.get('/')).headers.location).toBe('/login');
    expect(await t.handle.db.select().from(sessions).where(eq(sessions.userId, user.id))).toHaveLength(0);
    expect((await new TestClient(t.app).login('target-locked', PASSWORD)).statusCode).toBe(401);
  });

  it('never locks the last enabled administrator for good, only temporarily', async () => {
    // Its own app: the clock moves past five lockouts (over an hour).
    const own = await createTestApp();
    const attacker = new TestClient(own.app, '203.0.113.9');
    const [{ id: adminId }] = (await own.handle.db
      .select({ id: users.id })
      .from(users)
      .where(eq(users.username, 'admin'))) as [{ id: string }];
    for (let round = 1; round <= 5; round++) {
      for (let i = 0; i < 5; i++) {
        await attacker.get('/login');
        await attacker.post('/login', { username: 'admin', password: `round ${round} guess ${i}` });
      }
      const [now] = await own.handle.db.select().from(users).where(eq(users.id, adminId));
      expect(now!.locked).toBe(false);
      expect(now!.lockedUntil).not.toBeNull();
      own.clock.advance(now!.lockedUntil!.getTime() - own.clock.now() + 1);
    }
    const [event] = await own.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'authn_login_fail_max'), eq(auditEvents.targetId, adminId)))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(reasonOf(event)).toBe('last enabled administrator: not locked');
    expect((await new TestClient(own.app).login('admin', ADMIN_PASSWORD)).statusCode).toBe(303);
    await own.close();
  });

  it('rate-limits login posts per client address', async () => {
    const limited = await createTestApp({ LOGIN_RATE_LIMIT: '3' });
    try {
      const client = new TestClient(limited.app, '192.0.2.7');
      const statuses = [];
      for (let i = 0; i < 4; i++) {
        await client.get('/login');
        statuses.push((await client.post('/login', { username: 'x', password: 'y' })).statusCode);
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
      const other = new TestClient(limited.app, '192.0.2.8');
      await other.get('/login');
      expect((await other.post('/login', { username: 'x', password: 'y' })).statusCode).toBe(401);
    } finally {
      await limited.close();
    }
  });
});

describe('forced password reset', () => {
  it('sends the user to choose a new password before any other page', async () => {
    await createUser('must-reset', { force_password_reset: 'true' });
    const client = new TestClient(t.app);
    const login = await client.login('must-reset', PASSWORD);
    expect(login.headers.location).toBe('/password-reset');
    expect((await client.get('/')).headers.location).toBe('/password-reset');
    expect((await client.get('/admin/users')).headers.location).toBe('/password-reset');

    const page = await client.get('/password-reset');
    expect(page.body).toContain('Choose a new password');
    const mismatch = await client.post('/password-reset', {
      password: 'a brand new password',
      password_confirm: 'different one here',
    });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.body).toContain('The two passwords do not match.');
    const weak = await client.post('/password-reset', { password: 'short', password_confirm: 'short' });
    expect(weak.statusCode).toBe(422);
    expect(weak.body).toContain('at least 12 characters');
    // NIST SP 800-63B: the password the admin set, the user name and common passwords are refused.
    for (const refused of [PASSWORD, 'my name is must-reset', '123qweasdzxc']) {
      const answer = await client.post('/password-reset', { password: refused, password_confirm: refused });
      expect(answer.statusCode, refused).toBe(422);
      expect(answer.body).not.toContain('Your new password is set.');
    }
    expect((await client.post('/password-reset', { password: PASSWORD, password_confirm: PASSWORD })).body).toContain(
      'The new password must differ from the current one.',
    );
    expect((await client.get('/')).headers.location).toBe('/password-reset'); // still owed

    const done = await client.post('/password-reset', {
      password: 'a brand new password',
      password_confirm: 'a brand new password',
    });
    expect(done.statusCode).toBe(303);
    const home = await client.get('/');
    expect(home.statusCode).toBe(200);
    expect(home.body).toContain('Your new password is set.');
    expect((await new TestClient(t.app).login('must-reset', 'a brand new password')).headers.location).toBe('/');
  });

  it('is honoured for the first admin', async () => {
    const fresh = await createTestApp();
    try {
      const client = new TestClient(fresh.app);
      expect((await client.login('admin', ADMIN_PASSWORD)).headers.location).toBe('/password-reset');
    } finally {
      await fresh.close();
    }
  });
});

describe('sessions', () => {
  it('expires a session idle too long (30 minutes), on the server', async () => {
    const own = await createTestApp(); // its own clock to move
    const client = new TestClient(own.app);
    await client.login('admin', ADMIN_PASSWORD);
    own.clock.advance(29 * 60_000);
    expect((await client.get('/password-reset')).statusCode).toBe(200); // still there, and touched
    own.clock.advance(29 * 60_000);
    expect((await client.get('/password-reset')).statusCode).toBe(200);
    own.clock.advance(30 * 60_000 + 1);
    expect((await client.get('/password-reset')).headers.location).toBe('/login?next=%2Fpassword-reset');
    await own.close();
  });

  it('expires a session past its absolute lifetime (12 hours) even when active', async () => {
    const own = await createTestApp();
    const client = new TestClient(own.app);
    await client.login('admin', ADMIN_PASSWORD);
    for (let minutes = 0; minutes < 12 * 60 - 20; minutes += 20) {
      own.clock.advance(20 * 60_000);
      expect((await client.get('/password-reset')).statusCode, `after ${minutes + 20} minutes`).toBe(200);
    }
    own.clock.advance(21 * 60_000); // 12 h 1 min after login, 21 minutes after the last request
    expect((await client.get('/password-reset')).headers.location).toBe('/login?next=%2Fpassword-reset');
    await own.close();
  });

  it('ends every session of a user who is disabled', async () => {
    const user = await createUser('to-disable');
    const client = new TestClient(t.app);
    await client.login('to-disable', PASSWORD);
    expect((await client.get('/')).statusCode).toBe(200);
    const page = await admin.get(`/admin/users/${user.id}`);
    const version = /name="version" value="(\d+)"/.exec(page.body)![1]!;
    const saved = await admin.post(`/admin/users/${user.id}`, {
      username: 'to-disable',
      realm: 'local',
      disabled: 'true',
      version,
    });
    expect(saved.statusCode).toBe(303);
    expect(await t.handle.db.select().from(sessions).where(eq(sessions.userId, user.id))).toHaveLength(0);
    expect((await client.get('/')).headers.location).toBe('/login');
  });
});

describe('a session whose user became unusable', () => {
  it('continues as an anonymous visitor, even on public pages', async () => {
    const user = await createUser('soon-disabled');
    const client = new TestClient(t.app);
    await client.login('soon-disabled', PASSWORD);
    // Disabled behind Roster's back (sessions not ended): the next request must not trust it.
    await t.handle.db.update(users).set({ disabled: true }).where(eq(users.id, user.id));
    const login = await client.get('/login');
    expect(login.statusCode).toBe(200);
    expect(login.body).toContain('Log in to Roster');
    expect((await client.get('/')).headers.location).toBe('/login');
  });
});

describe('CSRF', () => {
  it('refuses a state-changing form without the session token', async () => {
    await admin.get('/admin/users/new');
    const response = await admin.post('/admin/users', { _csrf: 'forged', username: 'csrf-victim', password: PASSWORD });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('This form has expired');
    const [user] = await t.handle.db.select().from(users).where(eq(users.username, 'csrf-victim'));
    expect(user).toBeUndefined();
  });

  it('refuses a login post without the token', async () => {
    const client = new TestClient(t.app);
    await client.get('/login');
    const response = await client.post('/login', { _csrf: '', username: 'admin', password: ADMIN_NEW_PASSWORD });
    expect(response.statusCode).toBe(403);
  });

  it('accepts the token in the X-CSRF-Token header (htmx)', async () => {
    await admin.get('/admin/users/new');
    const response = await admin.post(
      '/admin/users',
      { _csrf: '', username: 'via-header', password: PASSWORD },
      { 'x-csrf-token': admin.csrf },
    );
    expect(response.statusCode).toBe(303);
  });
});
