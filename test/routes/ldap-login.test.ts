// Directory logins on the login form, against a real slapd: search then bind, the user found by
// (directory, immutable id), first-login creation on and off, attribute refresh, lockout,
// 2FA, and one generic failure for every way a login fails. Each test has a directory (and, where
// it matters, a person) of its own.
import crypto from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, groupMappings, userGroups, userIdentities, users } from '../../src/db/schema.js';
import { createLdapProvider, setProviderEnabled } from '../../src/directories/identity-providers-commands.js';
import type { LdapConfig } from '../../src/directories/ldap-config.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';
import { TestClient } from '../helpers/client.js';
import { createGroup, reasonOf } from '../helpers/factories.js';
import { GROUPS, PEOPLE, skipSlapdTests, slapdLdapConfig, startSlapd, type Slapd } from '../helpers/slapd.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const PASSWORD = 'person-pass-1';
const GENERIC = 'Invalid user name or password.';

describe.skipIf(skipSlapdTests)('directory login against a real slapd', () => {
  let slapd: Slapd;
  let t: TestApp;
  beforeAll(async () => {
    [slapd, t] = await Promise.all([startSlapd(), createTestApp()]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([slapd?.stop(), t?.close()]);
  });

  const db = () => t.app.db;

  /** An enabled directory of this test's own; its login domain is unique to it. */
  async function directory(overrides: Partial<LdapConfig> = {}, sortOrder = 10) {
    const domain = `d${crypto.randomUUID().slice(0, 8)}.test`;
    const { bindPassword, ...config } = slapdLdapConfig(slapd, { loginDomains: [domain], ...overrides });
    const created = await createLdapProvider(db(), t.app.secretBox, SYSTEM_ACTOR, {
      name: `Directory ${domain}`,
      sortOrder,
      config,
      bindPassword,
    });
    if (!created.ok) throw new Error(created.problem.message);
    await setProviderEnabled(db(), SYSTEM_ACTOR, created.value, created.value.version, true);
    return { provider: created.value, domain };
  }

  /** A directory person of this test's own. */
  async function person(extra: Record<string, string> = {}) {
    const uid = `p${crypto.randomUUID().slice(0, 8)}`;
    await slapd.add(`uid=${uid},${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid,
      cn: uid,
      givenName: 'Pat',
      sn: 'Person',
      mail: `${uid}@example.test`,
      userPassword: PASSWORD,
      ...extra,
    });
    return uid;
  }

  const identityOf = async (providerId: string) =>
    db().select().from(userIdentities).where(eq(userIdentities.providerId, providerId));
  const userById = async (id: string) => (await db().select().from(users).where(eq(users.id, id)))[0]!;
  async function lastFailureReason(name: string) {
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'authn_login_fail'), eq(auditEvents.actorName, name)))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    return reasonOf(event);
  }

  async function login(username: string, password = PASSWORD) {
    const client = new TestClient(t.app);
    const response = await client.login(username, password);
    return { client, response };
  }

  it('creates the user at the first login (realm ldap, attributes copied, identity linked) and rotates the session', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    const client = new TestClient(t.app);
    await client.get('/login');
    const anonymous = client.cookieHeader();
    const response = await client.post('/login', { username: `${uid}@${domain}`, password: PASSWORD });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/');
    expect(client.cookieHeader()).not.toBe(anonymous);
    expect((await client.get('/profile')).statusCode).toBe(200);

    const [identity] = await identityOf(provider.id);
    const user = await userById(identity!.userId);
    expect(user).toMatchObject({
      username: uid,
      realm: 'ldap',
      firstName: 'Pat',
      lastName: 'Person',
      passwordHash: null,
    });
    expect(user.email).toBe(`${uid}@example.test`);
    expect(user.lastSession).not.toBeNull();
    expect(identity!.externalName).toBe(`uid=${uid},${PEOPLE}`);
    const [created] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_created'), eq(auditEvents.targetId, user.id)));
    expect(created?.actorName).toBe(`ldap:${provider.name}`);
  });

  it('finds the user by the immutable id: the bare name, its upper case and name@domain are one account', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    for (const typed of [uid, uid.toUpperCase(), `${uid}@${domain}`]) {
      const { response } = await login(typed);
      expect(response.statusCode, typed).toBe(303);
    }
    const identities = await identityOf(provider.id);
    expect(identities).toHaveLength(1);
    expect((await db().select().from(users).where(eq(users.username, uid))).length).toBe(1);
  });

  it('keeps the same Roster user when the entry is renamed in the directory', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    expect((await login(`${uid}@${domain}`)).response.statusCode).toBe(303);
    const [before] = await identityOf(provider.id);
    const renamed = `${uid}r`;
    await slapd.rename(`uid=${uid},${PEOPLE}`, `uid=${renamed}`);
    expect((await login(`${renamed}@${domain}`)).response.statusCode).toBe(303);
    const after = await identityOf(provider.id);
    expect(after).toHaveLength(1);
    expect(after[0]!.userId).toBe(before!.userId);
    expect(after[0]!.externalName).toBe(`uid=${renamed},${PEOPLE}`);
  });

  it('refreshes the mapped attributes at every login, audited as the provider', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    await login(`${uid}@${domain}`);
    await slapd.modify(`uid=${uid},${PEOPLE}`, 'mail', [`${uid}@new.example.test`]);
    await login(`${uid}@${domain}`);
    const [identity] = await identityOf(provider.id);
    expect((await userById(identity!.userId)).email).toBe(`${uid}@new.example.test`);
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_updated'), eq(auditEvents.targetId, identity!.userId)))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(event?.actorName).toBe(`ldap:${provider.name}`);
    expect(event?.details).toMatchObject({ changes: { email: { new: `${uid}@new.example.test` } } });
  });

  it('with creation off, an entry nobody is linked to gets the generic failure and no user', async () => {
    const { provider, domain } = await directory({ createUsersAtFirstLogin: false });
    const uid = await person();
    const { response } = await login(`${uid}@${domain}`);
    expect(response.statusCode).toBe(401);
    expect(response.body).toContain(GENERIC);
    expect(await identityOf(provider.id)).toHaveLength(0);
    expect(await lastFailureReason(`${uid}@${domain}`)).toBe('directory_user_not_linked');
  });

  it('never links by name: a local user of the same name stays local, a new directory user gets another name', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    await db().insert(users).values({ username: uid, realm: 'ldap' }); // not linked to anything
    expect((await login(`${uid}@${domain}`)).response.statusCode).toBe(303);
    const [identity] = await identityOf(provider.id);
    const created = await userById(identity!.userId);
    expect(created.username).toBe(`${uid}@${domain}`);
  });

  it('answers every failure the same: unknown name, wrong password, empty password, injection, two entries, directory without TLS trust', async () => {
    const { domain } = await directory({
      userFilter: '(&(objectClass=inetOrgPerson)(|(uid={username})(sn={username})))',
    });
    const uid = await person();
    const untrusted = await directory({ caCertificate: null });
    const cases: Array<[string, string, string]> = [
      [`nobody@${domain}`, PASSWORD, 'unknown_user'],
      [`${uid}@${domain}`, 'wrong-password-1', 'bad_password'],
      [`${uid}@${domain}`, '   ', 'empty_password'],
      [`*@${domain}`, PASSWORD, 'unknown_user'],
      [`${uid})(uid=*@${domain}`, PASSWORD, 'unknown_user'],
      [`Twin@${domain}`, 'twin-pass-1', 'directory_ambiguous'],
      [`${uid}@${untrusted.domain}`, PASSWORD, 'directory_unavailable'],
    ];
    const bodies = new Set<string>();
    for (const [username, password, reason] of cases) {
      const { response } = await login(username, password);
      expect(response.statusCode, username).toBe(401);
      expect(response.body).toContain(GENERIC);
      bodies.add(response.body.replace(/value="[^"]*"/g, '').replace(/"X-CSRF-Token": "[^"]*"/g, ''));
      expect(await lastFailureReason(username), username).toBe(reason);
    }
    if (bodies.size !== 1) {
      const [a, b] = [...bodies];
      const at = [...a!].findIndex((c, i) => c !== b![i]);
      throw new Error(`answers differ at ${at}: ${a!.slice(at - 80, at + 80)} / ${b!.slice(at - 80, at + 80)}`);
    }
  });

  it('refuses an empty password before any bind, even where the directory would accept it', async () => {
    const { domain } = await directory();
    const uid = await person();
    const { response } = await login(`${uid}@${domain}`, '');
    expect(response.statusCode).toBe(401);
    expect(await lastFailureReason(`${uid}@${domain}`)).toBe('empty_password');
  });

  it('counts wrong directory passwords toward the lockout; a locked-out account is not tried, even with the right password', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    await login(`${uid}@${domain}`);
    const [identity] = await identityOf(provider.id);
    for (let i = 0; i < t.config.maxLoginAttempts; i++) await login(`${uid}@${domain}`, 'wrong-password-1');
    expect((await userById(identity!.userId)).lockedUntil).not.toBeNull();
    const { response } = await login(`${uid}@${domain}`);
    expect(response.statusCode).toBe(401);
    expect(await lastFailureReason(`${uid}@${domain}`)).toBe('temporarily_locked_out');
    t.clock.advance(60 * 60 * 1000);
    expect((await login(`${uid}@${domain}`)).response.statusCode).toBe(303);
  });

  it('refuses a disabled directory user with the generic failure', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    await login(`${uid}@${domain}`);
    const [identity] = await identityOf(provider.id);
    await db().update(users).set({ disabled: true }).where(eq(users.id, identity!.userId));
    const { response } = await login(`${uid}@${domain}`);
    expect(response.statusCode).toBe(401);
    expect(await lastFailureReason(`${uid}@${domain}`)).toBe('disabled');
  });

  it('asks a directory user with 2FA for their code before the session is theirs', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    await login(`${uid}@${domain}`);
    const [identity] = await identityOf(provider.id);
    await db()
      .update(users)
      .set({ twoFactorEnabled: true, twoFactorSecret: t.app.secretBox.seal('JBSWY3DPEHPK3PXP') })
      .where(eq(users.id, identity!.userId));
    const { client, response } = await login(`${uid}@${domain}`);
    expect(response.headers.location).toBe('/login/code');
    expect((await client.get('/profile')).statusCode).toBe(303);
  });

  it('answers the generic failure within the timeouts when the directory stops answering', async () => {
    const { domain } = await directory();
    const uid = await person();
    slapd.pause();
    try {
      const started = Date.now();
      const { response } = await login(`${uid}@${domain}`);
      expect(response.statusCode).toBe(401);
      // connect (1 s) + operation (1 s) timeouts of the test directory, and some slack
      expect(Date.now() - started).toBeLessThan(4500);
      expect(await lastFailureReason(`${uid}@${domain}`)).toBe('directory_unavailable');
    } finally {
      slapd.resume();
    }
  });

  it('recomputes mapped memberships at each login: added and removed as the directory says, a manual one kept', async () => {
    const { provider, domain } = await directory();
    const uid = await person();
    const dirGroup = `cn=g-${uid},${GROUPS}`;
    await slapd.add(dirGroup, { objectClass: 'groupOfNames', cn: `g-${uid}`, member: `uid=${uid},${PEOPLE}` });
    const mapped = await createGroup(db(), { name: `Mapped ${uid}` });
    const everyone = await createGroup(db(), { name: `Everyone ${uid}` });
    const manual = await createGroup(db(), { name: `Manual ${uid}` });
    await db()
      .insert(groupMappings)
      .values([
        // Case and spacing differ from the directory's DN: matching ignores both.
        {
          groupId: mapped.id,
          providerId: provider.id,
          groupDn: dirGroup.toUpperCase().replace(',', ' , '),
          matchKey: dirGroup.toLowerCase(),
        },
        { groupId: everyone.id, providerId: provider.id, allUsers: true, matchKey: '*' },
        { groupId: manual.id, providerId: provider.id, groupDn: 'cn=other,dc=x', matchKey: 'cn=other,dc=x' },
      ]);
    const sourceOf = async (userId: string) =>
      new Map(
        (await db().select().from(userGroups).where(eq(userGroups.userId, userId))).map((m) => [
          m.groupId,
          m.sourceProviderId,
        ]),
      );
    expect((await login(`${uid}@${domain}`)).response.statusCode).toBe(303);
    const [identity] = await identityOf(provider.id);
    const userId = identity!.userId;
    await db().insert(userGroups).values({ userId, groupId: manual.id }); // by hand
    let sources = await sourceOf(userId);
    expect(sources.get(mapped.id)).toBe(provider.id);
    expect(sources.get(everyone.id)).toBe(provider.id);

    await slapd.modify(dirGroup, 'member', [`uid=twin1,${PEOPLE}`]); // no longer in the directory group
    expect((await login(`${uid}@${domain}`)).response.statusCode).toBe(303);
    sources = await sourceOf(userId);
    expect(sources.has(mapped.id)).toBe(false);
    expect(sources.get(everyone.id)).toBe(provider.id);
    expect(sources.has(manual.id) && sources.get(manual.id)).toBeNull();
  });

  it('tries directories in order for a bare name: one that does not know it passes to the next', async () => {
    // Before every other directory of this file (which all know the person too).
    const first = await directory({ userSearchBase: `ou=groups,${PEOPLE.split(',').slice(1).join(',')}` }, 0);
    const second = await directory({}, 1);
    const uid = await person();
    expect((await login(uid)).response.statusCode).toBe(303);
    expect(await identityOf(first.provider.id)).toHaveLength(0);
    expect(await identityOf(second.provider.id)).toHaveLength(1);
  });
});

describe.skipIf(skipSlapdTests)('the timing of a failed login', () => {
  let slapd: Slapd;
  let t: TestApp;
  beforeAll(async () => {
    [slapd, t] = await Promise.all([startSlapd(), createTestApp({ LOGIN_FAILURE_MIN_MS: '400' })]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([slapd?.stop(), t?.close()]);
  });

  it('is never quicker than the floor, whether the name is unknown, the password wrong or the directory down', async () => {
    const { bindPassword, ...config } = slapdLdapConfig(slapd, { loginDomains: ['timing.test'] });
    const down = slapdLdapConfig(slapd, { loginDomains: ['down.test'], urls: ['ldaps://127.0.0.1:1'] });
    for (const [name, c] of [
      ['Timing', config],
      ['Down', down],
    ] as const) {
      const created = await createLdapProvider(t.app.db, t.app.secretBox, SYSTEM_ACTOR, {
        name,
        sortOrder: 1,
        config: c,
        bindPassword,
      });
      if (!created.ok) throw new Error(created.problem.message);
      await setProviderEnabled(t.app.db, SYSTEM_ACTOR, created.value, created.value.version, true);
    }
    for (const [username, password] of [
      ['nobody@timing.test', PASSWORD],
      ['alice@timing.test', 'wrong-password-1'],
      ['alice@down.test', 'alice-pass-1'],
      ['no-such-local-user', PASSWORD],
    ]) {
      const started = performance.now();
      const response = await new TestClient(t.app).login(username!, password!);
      expect(response.statusCode).toBe(401);
      expect(performance.now() - started, username).toBeGreaterThanOrEqual(400);
    }
  });
});
