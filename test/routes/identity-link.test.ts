// Linking a user to a directory entry from their page, and unlinking them back to local, against
// a real slapd: look up, confirm, link; the directory then logs them in; no way up; the last
// administrator stays local. Each test has users of its own.
import crypto from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, userGroups, userIdentities, users } from '../../src/db/schema.js';
import { createLdapProvider, setProviderEnabled } from '../../src/directories/identity-providers-commands.js';
import { systemGroupId } from '../../src/groups/groups-queries.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';
import { callApi, insertApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createGroup, loggedInClient, seedUser } from '../helpers/factories.js';
import { PEOPLE, skipSlapdTests, slapdLdapConfig, startSlapd, type Slapd } from '../helpers/slapd.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

const PASSWORD = 'person-pass-1';

describe.skipIf(skipSlapdTests)('linking a user to a directory entry', () => {
  let slapd: Slapd;
  let t: TestApp;
  let admin: TestClient;
  let providerId: string;
  const domain = 'link.test';
  beforeAll(async () => {
    [slapd, t] = await Promise.all([startSlapd(), createTestApp()]);
    admin = await new TestClient(t.app).loginAsFirstAdmin();
    const { bindPassword, ...config } = slapdLdapConfig(slapd, {
      loginDomains: [domain],
      createUsersAtFirstLogin: false,
    });
    const created = await createLdapProvider(t.app.db, t.app.secretBox, SYSTEM_ACTOR, {
      name: 'Link Directory',
      sortOrder: 1,
      config,
      bindPassword,
    });
    if (!created.ok) throw new Error(created.problem.message);
    providerId = created.value.id;
    await setProviderEnabled(t.app.db, SYSTEM_ACTOR, created.value, created.value.version, true);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([slapd?.stop(), t?.close()]);
  });

  const db = () => t.app.db;
  const uniq = () => crypto.randomUUID().slice(0, 8);
  async function person() {
    const uid = `p${uniq()}`;
    await slapd.add(`uid=${uid},${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid,
      cn: uid,
      sn: 'Linked',
      mail: `${uid}@example.test`,
      userPassword: PASSWORD,
    });
    return uid;
  }
  const userById = async (id: string) => (await db().select().from(users).where(eq(users.id, id)))[0]!;

  /** Looks the name up on the user's behalf and presses Link, as the admin does. */
  async function link(client: TestClient, userId: string, name: string) {
    const page = await client.get(`/admin/users/${userId}/identity/lookup?provider_id=${providerId}&name=${name}`);
    const subject = /name="subject" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    return {
      page,
      response: await client.post(`/admin/users/${userId}/identity`, { provider_id: providerId, name, subject }),
    };
  }

  it('looks the entry up, links the user (realm ldap, no local password), and the directory then logs them in', async () => {
    const uid = await person();
    const local = await seedUser(db(), `local-${uid}`, USER_PASSWORD);
    const show = await admin.get(`/admin/users/${local.id}`);
    expect(show.body).toContain('Look up to link');
    const { page, response } = await link(admin, local.id, uid);
    expect(page.body).toContain(`uid=${uid},${PEOPLE}`);
    expect(response.statusCode).toBe(303);
    const linked = await userById(local.id);
    expect(linked).toMatchObject({ realm: 'ldap', passwordHash: null, email: `${uid}@example.test` });
    const after = await admin.get(`/admin/users/${local.id}`);
    expect(after.body).toContain('Link Directory');
    expect(after.body).toContain('Unlink (make local)');
    // The old local password no longer works; the directory's does, as the same user.
    expect((await new TestClient(t.app).login(`local-${uid}`, USER_PASSWORD)).statusCode).toBe(401);
    const login = await new TestClient(t.app).login(`${uid}@${domain}`, PASSWORD);
    expect(login.statusCode).toBe(303);
    expect((await userById(local.id)).lastSession).not.toBeNull();
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_identity_linked'), eq(auditEvents.targetId, local.id)));
    expect(event?.details).toMatchObject({ changes: { realm: { old: 'local', new: 'ldap' } } });
    // get_user answers the identity (Roster's own field).
    const key = await insertApiKey(db(), { permissions: ['users_view'] });
    const answer = await callApi(t.app, key, 'get_user', { target_user: { username: `local-${uid}` } });
    expect(answer.json().user.identities).toEqual([
      expect.objectContaining({ provider_name: 'Link Directory', kind: 'ldap', external_name: `uid=${uid},${PEOPLE}` }),
    ]);
  });

  it('refuses an entry already linked to another user, and a look-up that went stale', async () => {
    const uid = await person();
    const first = await seedUser(db(), `first-${uid}`, USER_PASSWORD);
    const second = await seedUser(db(), `second-${uid}`, USER_PASSWORD);
    expect((await link(admin, first.id, uid)).response.statusCode).toBe(303);
    const again = await link(admin, second.id, uid);
    expect(again.response.statusCode).toBe(409);
    expect(again.response.body).toContain(`already linked to first-${uid}`);
    const stale = await admin.post(`/admin/users/${second.id}/identity`, {
      provider_id: providerId,
      name: uid,
      subject: 'not-it',
    });
    expect(stale.statusCode).toBe(409);
    expect((await userById(second.id)).realm).toBe('local');
  });

  it('shows a clear message beside the name when the directory does not know it', async () => {
    const local = await seedUser(db(), `nobody-${uniq()}`, USER_PASSWORD);
    const page = await admin.get(
      `/admin/users/${local.id}/identity/lookup?provider_id=${providerId}&name=no-such-person`,
    );
    expect(page.statusCode).toBe(422);
    expect(page.body).toContain('No entry under');
  });

  it('unlinks to local only with a password that passes the policy; the memberships the mappings made stay, as manual', async () => {
    const uid = await person();
    const local = await seedUser(db(), `unlink-${uid}`, USER_PASSWORD);
    await link(admin, local.id, uid);
    const group = await createGroup(db(), { name: `Mapped ${uid}` });
    await db().insert(userGroups).values({ userId: local.id, groupId: group.id, sourceProviderId: providerId });
    const [identity] = await db().select().from(userIdentities).where(eq(userIdentities.userId, local.id));
    const url = `/admin/users/${local.id}/identity/${identity!.id}/unlink`;
    await admin.get(url);
    const weak = await admin.post(url, { password: 'short', password_confirm: 'short' });
    expect(weak.statusCode).toBe(422);
    expect(weak.body).toContain('at least');
    expect((await userById(local.id)).realm).toBe('ldap');
    const done = await admin.post(url, { password: 'a new local password', password_confirm: 'a new local password' });
    expect(done.statusCode).toBe(303);
    expect((await userById(local.id)).realm).toBe('local');
    expect(await db().select().from(userIdentities).where(eq(userIdentities.userId, local.id))).toHaveLength(0);
    const [membership] = await db()
      .select()
      .from(userGroups)
      .where(and(eq(userGroups.userId, local.id), eq(userGroups.groupId, group.id)));
    expect(membership?.sourceProviderId).toBeNull();
    expect((await new TestClient(t.app).login(`unlink-${uid}`, 'a new local password')).statusCode).toBe(303);
    // The directory no longer logs anyone in as them (and creates no one: creation is off here).
    expect((await new TestClient(t.app).login(`${uid}@${domain}`, PASSWORD)).statusCode).toBe(401);
  });

  it('refuses changing the realm of a linked user through the form', async () => {
    const uid = await person();
    const local = await seedUser(db(), `realm-${uid}`, USER_PASSWORD);
    await link(admin, local.id, uid);
    const user = await userById(local.id);
    await admin.get(`/admin/users/${local.id}`);
    const response = await admin.post(`/admin/users/${local.id}`, {
      username: user.username,
      realm: 'local',
      password: 'another local password',
      version: String(user.version),
    });
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('unlink them');
    expect((await userById(local.id)).realm).toBe('ldap');
  });

  it('no way up: an admin without global_admin cannot link or unlink a global admin, nor look up without auth_view', async () => {
    const uid = await person();
    const helpers = await createGroup(db(), {
      name: `Helpers ${uid}`,
      permissions: ['users_view', 'users_modify', 'auth_view'],
    });
    const noAuth = await createGroup(db(), { name: `No auth ${uid}`, permissions: ['users_view', 'users_modify'] });
    const helper = await seedUser(db(), `helper-${uid}`, USER_PASSWORD);
    const plain = await seedUser(db(), `plain-${uid}`, USER_PASSWORD);
    await db()
      .insert(userGroups)
      .values([
        { userId: helper.id, groupId: helpers.id },
        { userId: plain.id, groupId: noAuth.id },
      ]);
    const target = await seedUser(db(), `target-${uid}`, USER_PASSWORD);
    await db()
      .insert(userGroups)
      .values({ userId: target.id, groupId: await systemGroupId(db(), 'administrators') });
    // Disabled, so the first admin stays the last active one for the test below.
    await db().update(users).set({ disabled: true }).where(eq(users.id, target.id));
    const client = await loggedInClient(t.app, `helper-${uid}`);
    const refused = await link(client, target.id, uid);
    expect(refused.page.statusCode).toBe(200); // looking up reads the directory only
    expect(refused.response.statusCode).toBe(403);
    expect((await userById(target.id)).realm).toBe('local');
    const plainClient = await loggedInClient(t.app, `plain-${uid}`);
    const lookup = await plainClient.get(
      `/admin/users/${target.id}/identity/lookup?provider_id=${providerId}&name=${uid}`,
    );
    expect(lookup.statusCode).toBe(403);
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'authz_fail'), eq(auditEvents.targetId, target.id)))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(event).toBeDefined();
  });

  it('keeps the last administrator local', async () => {
    const uid = await person();
    const adminId = admin_id();
    const refused = await link(admin, adminId, uid);
    expect(refused.response.statusCode).toBe(409);
    expect((await userById(adminId)).realm).toBe('local');
  });

  function admin_id(): string {
    return adminUserId!;
  }
  let adminUserId: string | undefined;
  beforeAll(async () => {
    adminUserId = (await db().select().from(users).where(eq(users.username, 'admin')))[0]!.id;
  });
});
