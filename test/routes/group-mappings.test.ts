// SSO group mappings (docs/rules.md#sso-group-mappings): the commands on a database (adding with
// no way up, deleting, recomputing a user's memberships at a login or sync), the group page's
// section with JavaScript off and with htmx, and the API calls.
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditEvents,
  groupMappings,
  groupPermissions,
  userGroups,
  userIdentities,
  users,
  type Group,
  type IdentityProvider,
} from '../../src/db/schema.js';
import { addGroupMapping, applyGroupMappings, deleteGroupMapping } from '../../src/groups/group-mappings-commands.js';
import { changeMembership } from '../../src/groups/groups-commands.js';
import { accessOfUser, findGroup, systemGroupId } from '../../src/groups/groups-queries.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/security/actor.js';
import type { Permission } from '../../src/security/permissions.js';
import { callApi, insertApiKey } from '../helpers/api.js';
import { createGroup, createIdentityProvider, fixtures, loggedInClient } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';

let t: TestApp;
let db: TestApp['handle']['db'];
let admin: TestClient;
let n = 0;

beforeAll(async () => {
  t = await createTestApp();
  db = t.handle.db;
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { createUser, lastAudit } = fixtures(
  () => t,
  () => admin,
);

const ADMINS_DN = 'CN=Admins,OU=Groups,DC=Corp,DC=Example';
const DEVS_DN = 'cn=devs,ou=groups,dc=corp,dc=example';

/** A group of its own, a provider of its own, and a user (not a member), fresh for each test. */
async function world(permissions: Permission[] = []) {
  const i = ++n;
  const group = await createGroup(db, { name: `Mapped ${i}`, permissions });
  const provider = await createIdentityProvider(db, { name: `Corp LDAP ${i}` });
  const [user] = await db
    .insert(users)
    .values({ username: `dir-user-${i}`, realm: 'ldap' })
    .returning();
  return { group, provider, user: user! };
}

/** The Actor a user is, as the app builds it. */
async function actorOf(user: { id: string; username: string }): Promise<Actor> {
  const access = await accessOfUser(db, user.id);
  return {
    type: 'user',
    id: user.id,
    name: user.username,
    ip: '127.0.0.1',
    permissions: access.permissions as ReadonlySet<Permission>,
    groupIds: access.groupIds,
  };
}

/** A local user whose only powers are `permissions` (through a group of their own). */
async function userWith(username: string, permissions: string[]) {
  const user = await createUser(`${username}-${++n}`);
  const powers = await createGroup(db, { name: `${user.username} powers`, permissions });
  await db.insert(userGroups).values({ userId: user.id, groupId: powers.id });
  return { user, powers };
}

const membership = async (userId: string, groupId: string) =>
  (
    await db
      .select()
      .from(userGroups)
      .where(and(eq(userGroups.userId, userId), eq(userGroups.groupId, groupId)))
  )[0];
const mappingsOf = (groupId: string) => db.select().from(groupMappings).where(eq(groupMappings.groupId, groupId));
const apply = (provider: IdentityProvider, user: { id: string; username: string }, dns: string[] | null) =>
  db.transaction((tx) => applyGroupMappings(tx, provider, user, dns));
const addAll = (group: Group, provider: IdentityProvider, actor: Actor = SYSTEM_ACTOR) =>
  addGroupMapping(db, actor, group, { providerId: provider.id, allUsers: true, groupDns: [] });
const addDns = (group: Group, provider: IdentityProvider, dns: string[], actor: Actor = SYSTEM_ACTOR) =>
  addGroupMapping(db, actor, group, { providerId: provider.id, allUsers: false, groupDns: dns });

describe('addGroupMapping', () => {
  it('adds one mapping per DN, keyed by the normalized DN, repeats and blank lines merged; audited', async () => {
    const { group, provider } = await world();
    const result = await addDns(group, provider, [
      ADMINS_DN,
      '',
      '  cn=admins, ou=groups, dc=corp, dc=example ',
      DEVS_DN,
    ]);
    expect(result.ok).toBe(true);
    const rows = await mappingsOf(group.id);
    expect(rows.map((row) => [row.groupDn, row.matchKey, row.allUsers]).sort()).toEqual([
      [ADMINS_DN, 'cn=admins,ou=groups,dc=corp,dc=example', false],
      [DEVS_DN, DEVS_DN, false],
    ]);
    const audit = await lastAudit('group_mapping_created', group.id);
    expect(audit).toMatchObject({ actorType: 'system', outcome: 'success' });
    expect(audit!.details).toMatchObject({ provider: { id: provider.id, name: provider.name } });
  });

  it("maps all of a provider's users with '*'", async () => {
    const { group, provider } = await world();
    expect((await addAll(group, provider)).ok).toBe(true);
    expect((await mappingsOf(group.id)).map((row) => [row.allUsers, row.matchKey, row.groupDn])).toEqual([
      [true, '*', ''],
    ]);
  });

  it('needs a DN unless all users, a provider that exists, and DNs that look like DNs', async () => {
    const { group, provider } = await world();
    expect(await addDns(group, provider, ['', '  '])).toMatchObject({
      ok: false,
      problem: { kind: 'invalid', field: 'group_dns' },
    });
    expect(await addDns(group, provider, ['Admins'])).toMatchObject({
      ok: false,
      problem: { kind: 'invalid', field: 'group_dns' },
    });
    expect(
      await addGroupMapping(db, SYSTEM_ACTOR, group, {
        providerId: '00000000-0000-4000-8000-000000000000',
        allUsers: true,
        groupDns: [],
      }),
    ).toMatchObject({ ok: false, problem: { kind: 'invalid', field: 'provider_id' } });
    expect(await mappingsOf(group.id)).toEqual([]);
  });

  it('refuses a DN (or all users) mapped already, beside the field, and adds none of the batch', async () => {
    const { group, provider } = await world();
    await addDns(group, provider, [ADMINS_DN]);
    await addAll(group, provider);
    const again = await addDns(group, provider, [DEVS_DN, 'cn=ADMINS,ou=Groups,dc=corp,dc=example']);
    expect(again).toMatchObject({ ok: false, problem: { kind: 'conflict', field: 'group_dns' } });
    expect(!again.ok && again.problem.message).toContain(ADMINS_DN);
    expect(await addAll(group, provider)).toMatchObject({
      ok: false,
      problem: { kind: 'conflict', field: 'all_users' },
    });
    expect(await mappingsOf(group.id)).toHaveLength(2);
    // The same DN for another provider, or into another group, is another mapping.
    const other = await createIdentityProvider(db);
    expect((await addDns(group, other, [ADMINS_DN])).ok).toBe(true);
  });

  it('no way up: refused (audited) when the group grants what the actor lacks; allowed once they hold it', async () => {
    const { group, provider } = await world(['audit_view']);
    const { user: deputy, powers } = await userWith('deputy', ['user', 'groups_view', 'groups_modify']);
    const refused = await addAll(group, provider, await actorOf(deputy));
    expect(refused).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'audit_view' } });
    expect(await mappingsOf(group.id)).toEqual([]);
    const audit = await lastAudit('authz_fail', group.id);
    expect(audit).toMatchObject({ actorId: deputy.id, outcome: 'failure' });
    expect(audit!.details).toMatchObject({ lacking: ['audit_view'] });
    await db.insert(groupPermissions).values({ groupId: powers.id, permission: 'audit_view' });
    expect((await addAll(group, provider, await actorOf(deputy))).ok).toBe(true);
  });

  it("needs the group's modify permission (groups_modify_system for a system group), and maps nothing into All Users", async () => {
    const { group, provider } = await world();
    const { user: viewer } = await userWith('viewer', ['user', 'groups_view']);
    expect(await addAll(group, provider, await actorOf(viewer))).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden', lacking: 'groups_modify' },
    });
    const { user: deputy } = await userWith('deputy', ['user', 'groups_view', 'groups_modify', 'groups_view_system']);
    const administrators = (await findGroup(db, await systemGroupId(db, 'administrators')))!;
    expect(await addAll(administrators, provider, await actorOf(deputy))).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden', lacking: 'groups_modify_system' },
    });
    const allUsers = (await findGroup(db, await systemGroupId(db, 'all_users')))!;
    expect(await addAll(allUsers, provider)).toMatchObject({ ok: false, problem: { kind: 'invalid' } });
  });

  it("reaching the provider's users who hold more than the actor needs users_modify_admin", async () => {
    const { group, provider, user } = await world();
    const strong = await createGroup(db, { name: `Strong ${++n}`, permissions: ['audit_view'] });
    await db.insert(userGroups).values({ userId: user.id, groupId: strong.id });
    await db.insert(userIdentities).values({ userId: user.id, providerId: provider.id, subject: `uuid-${n}` });
    const { user: deputy, powers } = await userWith('deputy', ['user', 'groups_view', 'groups_modify']);
    const refused = await addAll(group, provider, await actorOf(deputy));
    expect(refused).toMatchObject({ ok: false, problem: { kind: 'forbidden', reason: 'stronger_user' } });
    expect(!refused.ok && refused.problem.message).toContain('users_modify_admin');
    expect(!refused.ok && refused.problem.message).toContain('audit_view');
    await db.insert(groupPermissions).values({ groupId: powers.id, permission: 'users_modify_admin' });
    expect((await addAll(group, provider, await actorOf(deputy))).ok).toBe(true);
  });
});

describe('deleteGroupMapping', () => {
  it('deletes the mapping, audited, and leaves the members it made until their next login or sync', async () => {
    const { group, provider, user } = await world();
    await addAll(group, provider);
    await apply(provider, user, []);
    const [mapping] = await mappingsOf(group.id);
    const result = await deleteGroupMapping(db, SYSTEM_ACTOR, group, mapping!.id);
    expect(result.ok).toBe(true);
    expect(await mappingsOf(group.id)).toEqual([]);
    expect(await membership(user.id, group.id)).toMatchObject({ sourceProviderId: provider.id });
    expect(await lastAudit('group_mapping_deleted', group.id)).toBeDefined();
    // The next login recomputes: no mapping wants it any more.
    expect(await apply(provider, user, [])).toEqual({ added: [], removed: [group.id] });
    expect(await membership(user.id, group.id)).toBeUndefined();
  });

  it("is not found for another group's mapping, and refused without the group's modify permission", async () => {
    const { group } = await world();
    const other = await world();
    await addAll(other.group, other.provider);
    const [mapping] = await mappingsOf(other.group.id);
    expect(await deleteGroupMapping(db, SYSTEM_ACTOR, group, mapping!.id)).toMatchObject({
      ok: false,
      problem: { kind: 'not_found' },
    });
    const { user: viewer } = await userWith('viewer', ['user', 'groups_view']);
    expect(await deleteGroupMapping(db, await actorOf(viewer), other.group, mapping!.id)).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden' },
    });
    expect(await mappingsOf(other.group.id)).toHaveLength(1);
  });
});

describe('applyGroupMappings', () => {
  it("adds the mapped groups as the provider's memberships, audited by the provider", async () => {
    const { group, provider, user } = await world();
    const devs = await createGroup(db, { name: `Devs ${++n}` });
    const unrelated = await createGroup(db, { name: `Unrelated ${++n}` });
    await addDns(group, provider, [ADMINS_DN]);
    await addDns(devs, provider, [DEVS_DN]);
    await addDns(unrelated, provider, ['cn=other,dc=corp']);
    const result = await apply(provider, user, ['cn=admins, ou=groups, dc=corp, dc=example', DEVS_DN.toUpperCase()]);
    expect(result.added.sort()).toEqual([group.id, devs.id].sort());
    expect(result.removed).toEqual([]);
    expect(await membership(user.id, group.id)).toMatchObject({ sourceProviderId: provider.id });
    expect(await membership(user.id, unrelated.id)).toBeUndefined();
    const audit = await lastAudit('group_member_added', group.id);
    expect(audit).toMatchObject({ actorType: 'system', actorName: `ldap:${provider.name}`, targetName: group.name });
    expect(audit!.details).toMatchObject({ member: { id: user.id, name: user.username }, reason: 'sso_group_mapping' });
    // Unchanged on the next login: nothing to do, nothing recorded.
    expect(await apply(provider, user, [ADMINS_DN, DEVS_DN])).toEqual({ added: [], removed: [] });
  });

  it("removes only the provider's own memberships that no mapping wants; manual and other providers' stay", async () => {
    const { group, provider, user } = await world();
    const manual = await createGroup(db, { name: `Manual ${++n}` });
    const byOther = await createGroup(db, { name: `Other ${++n}` });
    const other = await createIdentityProvider(db);
    await addDns(group, provider, [ADMINS_DN]);
    await addDns(manual, provider, [ADMINS_DN]);
    await addDns(byOther, other, [ADMINS_DN]);
    await db.insert(userGroups).values([
      { userId: user.id, groupId: manual.id },
      { userId: user.id, groupId: byOther.id, sourceProviderId: other.id },
    ]);
    expect(await apply(provider, user, [ADMINS_DN])).toEqual({ added: [group.id], removed: [] });
    // Left the directory group: the provider's membership goes, the manual one and the other provider's stay.
    expect(await apply(provider, user, [])).toEqual({ added: [], removed: [group.id] });
    expect(await membership(user.id, group.id)).toBeUndefined();
    expect(await membership(user.id, manual.id)).toMatchObject({ sourceProviderId: null });
    expect(await membership(user.id, byOther.id)).toMatchObject({ sourceProviderId: other.id });
    const audit = await lastAudit('group_member_removed', group.id);
    expect(audit).toMatchObject({ actorName: `ldap:${provider.name}` });
    expect(audit!.details).toMatchObject({ reason: 'sso_group_mapping' });
  });

  it('keeps every membership and records a warning when the directory answered no groups at all', async () => {
    const { group, provider, user } = await world();
    await addDns(group, provider, [ADMINS_DN]);
    await apply(provider, user, [ADMINS_DN]);
    expect(await apply(provider, user, null)).toEqual({ added: [], removed: [] });
    expect(await membership(user.id, group.id)).toMatchObject({ sourceProviderId: provider.id });
    const [warning] = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'group_mappings_skipped'), eq(auditEvents.targetId, user.id)))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(warning).toMatchObject({ outcome: 'failure', actorName: `ldap:${provider.name}`, targetType: 'user' });
    expect((warning!.details as { reason: string }).reason).toContain('kept');
  });

  it('an all-users mapping holds a user in no directory group', async () => {
    const { group, provider, user } = await world();
    await addAll(group, provider);
    expect(await apply(provider, user, [])).toEqual({ added: [group.id], removed: [] });
    expect(await apply(provider, user, ['cn=whatever'])).toEqual({ added: [], removed: [] });
  });

  it('leaves a manual membership manual when a mapping also wants it', async () => {
    const { group, provider, user } = await world();
    await db.insert(userGroups).values({ userId: user.id, groupId: group.id });
    await addAll(group, provider);
    expect(await apply(provider, user, [])).toEqual({ added: [], removed: [] });
    expect(await membership(user.id, group.id)).toMatchObject({ sourceProviderId: null });
  });

  it("an admin's add makes a mapped membership manual, so the mapping never undoes it", async () => {
    const { group, provider, user } = await world();
    await addDns(group, provider, [ADMINS_DN]);
    await apply(provider, user, [ADMINS_DN]);
    const added = await changeMembership(db, SYSTEM_ACTOR, group, { ...user, realm: 'ldap' }, 'add');
    expect(added.ok).toBe(true);
    expect(await membership(user.id, group.id)).toMatchObject({ sourceProviderId: null });
    const audit = await lastAudit('group_member_added', group.id);
    expect(audit).toMatchObject({ actorType: 'system', actorName: 'system' });
    expect(audit!.details).toMatchObject({ changes: { source: { old: provider.name, new: 'manual' } } });
    // Left the directory group: the membership, manual now, stays.
    expect(await apply(provider, user, [])).toEqual({ added: [], removed: [] });
    expect(await membership(user.id, group.id)).toBeDefined();
    // Adding a manual member again is still "already a member".
    expect(await changeMembership(db, SYSTEM_ACTOR, group, { ...user, realm: 'ldap' }, 'add')).toMatchObject({
      ok: false,
      problem: { reason: 'already_member' },
    });
  });

  it('never removes the last administrator from the group that makes them one', async () => {
    const provider = await createIdentityProvider(db);
    const administrators = (await findGroup(db, await systemGroupId(db, 'administrators')))!;
    const [first] = await db.select().from(users).where(eq(users.username, 'admin'));
    const others = await db.select().from(userGroups).where(eq(userGroups.groupId, administrators.id));
    expect(others.map((row) => row.userId)).toEqual([first!.id]); // the only administrator
    await db
      .update(userGroups)
      .set({ sourceProviderId: provider.id })
      .where(and(eq(userGroups.userId, first!.id), eq(userGroups.groupId, administrators.id)));
    try {
      expect(await apply(provider, first!, [])).toEqual({ added: [], removed: [] });
      expect(await membership(first!.id, administrators.id)).toMatchObject({ sourceProviderId: provider.id });
      const audit = await lastAudit('group_mappings_skipped', administrators.id);
      expect((audit!.details as { reason: string }).reason).toContain('no one to administer');
    } finally {
      await db
        .update(userGroups)
        .set({ sourceProviderId: null })
        .where(and(eq(userGroups.userId, first!.id), eq(userGroups.groupId, administrators.id)));
    }
  });
});

describe('the group page', () => {
  const section = (html: string) =>
    html.slice(
      html.indexOf('<section id="sso-mappings"'),
      html.indexOf('</section>', html.indexOf('<section id="sso-mappings"')),
    );

  it('adds with JavaScript off: 303 back to the section, the message there, the mappings listed', async () => {
    const { group, provider } = await world();
    await admin.get(`/admin/groups/${group.id}`);
    const added = await admin.post(`/admin/groups/${group.id}/sso-mappings`, {
      provider_id: provider.id,
      group_dns: `${ADMINS_DN}\r\n${DEVS_DN}\r\n`,
    });
    expect(added.statusCode).toBe(303);
    expect(added.headers.location).toBe(`/admin/groups/${group.id}#sso-mappings`);
    const page = section((await admin.get(`/admin/groups/${group.id}`)).body);
    expect(page).toContain(`Mapped 2 group DNs of ${provider.name} into ${group.name}.`);
    expect(page).toContain(`<code>${ADMINS_DN}</code>`);
    expect(page).toContain(`<code>${DEVS_DN}</code>`);
    expect(page).toContain('matching ignores case and spaces around commas');
    const all = await admin.post(`/admin/groups/${group.id}/sso-mappings`, {
      provider_id: provider.id,
      all_users: 'true',
    });
    expect(all.statusCode).toBe(303);
    expect(section((await admin.get(`/admin/groups/${group.id}`)).body)).toContain('All users of this provider');
  });

  it('without a DN: 422, the error beside the field, the values kept', async () => {
    const { group, provider } = await world();
    await admin.get(`/admin/groups/${group.id}`);
    const refused = await admin.post(`/admin/groups/${group.id}/sso-mappings`, {
      provider_id: provider.id,
      group_dns: ' ',
    });
    expect(refused.statusCode).toBe(422);
    const html = section(refused.body);
    expect(html).toContain('<p class="error" id="e-group_dns">A group DN is required');
    expect(html).toMatch(new RegExp(`<option value="${provider.id}" selected>`));
    const duplicate = await admin.post(`/admin/groups/${group.id}/sso-mappings`, {
      provider_id: provider.id,
      group_dns: 'cn=x,dc=y',
    });
    expect(duplicate.statusCode).toBe(303);
    const again = await admin.post(`/admin/groups/${group.id}/sso-mappings`, {
      provider_id: provider.id,
      group_dns: 'CN=X, DC=Y',
    });
    expect(again.statusCode).toBe(409);
    expect(section(again.body)).toContain('id="e-group_dns">Already mapped');
    expect(section(again.body)).toContain('CN=X, DC=Y</textarea>');
  });

  it('adds and removes in place for htmx, again and again without a reload', async () => {
    const { group, provider } = await world();
    await admin.get(`/admin/groups/${group.id}`);
    const htmx = { 'hx-request': 'true' };
    for (const dn of ['cn=one,dc=corp', 'cn=two,dc=corp']) {
      const added = await admin.post(
        `/admin/groups/${group.id}/sso-mappings`,
        { provider_id: provider.id, group_dns: dn },
        htmx,
      );
      expect(added.statusCode).toBe(200);
      expect(added.body.trimStart()).toMatch(/^<section id="sso-mappings"/);
      expect(added.body).not.toContain('<html');
      expect(added.body).toContain(`<code>${dn}</code>`);
      expect(added.body).toContain('hx-post="/admin/groups/' + group.id + '/sso-mappings"');
      expect(added.body).toContain('name="_csrf"');
    }
    const invalid = await admin.post(`/admin/groups/${group.id}/sso-mappings`, { provider_id: provider.id }, htmx);
    expect(invalid.statusCode).toBe(422);
    expect(invalid.body).toContain('id="e-group_dns"');
    const [mapping] = await mappingsOf(group.id);
    const removed = await admin.post(`/admin/groups/${group.id}/sso-mappings/${mapping!.id}/remove`, {}, htmx);
    expect(removed.statusCode).toBe(200);
    expect(removed.body).toContain('removed. Members it added stay until their next login or sync.');
    expect(await mappingsOf(group.id)).toHaveLength(1);
  });

  it('removes with JavaScript off through a confirm page', async () => {
    const { group, provider } = await world();
    await addDns(group, provider, [ADMINS_DN]);
    const [mapping] = await mappingsOf(group.id);
    const page = await admin.get(`/admin/groups/${group.id}`);
    expect(page.body).toContain(`href="/admin/groups/${group.id}/sso-mappings/${mapping!.id}/remove"`);
    const confirm = await admin.get(`/admin/groups/${group.id}/sso-mappings/${mapping!.id}/remove`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`Remove the mapping of ${ADMINS_DN} (${provider.name}) into ${group.name}?`);
    expect(confirm.body).toContain('until their next login or directory sync');
    const removed = await admin.post(`/admin/groups/${group.id}/sso-mappings/${mapping!.id}/remove`, {
      confirm: 'yes',
    });
    expect(removed.statusCode).toBe(303);
    expect(await mappingsOf(group.id)).toEqual([]);
    const gone = await admin.get(`/admin/groups/${group.id}/sso-mappings/${mapping!.id}/remove`);
    expect(gone.statusCode).toBe(404);
  });

  it('shows the section without forms to who may only view the group; the members table names each source', async () => {
    const { group, provider, user } = await world();
    await addAll(group, provider);
    await apply(provider, user, []);
    const manualUser = await createUser(`manual-${++n}`);
    await db.insert(userGroups).values({ userId: manualUser.id, groupId: group.id });
    const { user: viewer } = await userWith('viewer', ['user', 'groups_view']);
    const client = await loggedInClient(t.app, viewer.username);
    const page = (await client.get(`/admin/groups/${group.id}`)).body;
    expect(section(page)).toContain('SSO Group Mappings');
    expect(section(page)).toContain('All users of this provider');
    expect(section(page)).not.toContain('<form');
    expect(section(page)).not.toContain('/remove');
    expect(page).toContain('<th scope="col">Source</th>');
    const row = (id: string) =>
      page.slice(page.indexOf(`<tr id="member-${id}">`), page.indexOf('</tr>', page.indexOf(`<tr id="member-${id}">`)));
    expect(row(user.id)).toContain(`<td>${provider.name}</td>`);
    expect(row(manualUser.id)).toContain('<td>Manual</td>');
    expect(
      (await client.post(`/admin/groups/${group.id}/sso-mappings`, { provider_id: provider.id, all_users: 'true' }))
        .statusCode,
    ).toBe(403);
  });
});

describe('the API', () => {
  it('get_group_mappings, add_group_mapping and delete_group_mapping, through the same commands', async () => {
    const { group, provider } = await world();
    const key = await insertApiKey(db, { permissions: ['groups_view', 'groups_modify'] });
    const added = await callApi(t.app, key, 'add_group_mapping', {
      target_group: { group_id: group.id.replaceAll('-', '') },
      target_group_mapping: { provider_id: provider.id.replaceAll('-', ''), group_dn: ADMINS_DN },
    });
    expect(added.statusCode, added.body).toBe(200);
    const mapping = added.json().group_mapping;
    expect(mapping).toMatchObject({
      group_id: group.id.replaceAll('-', ''),
      provider_id: provider.id.replaceAll('-', ''),
      provider_name: provider.name,
      all_users: false,
      group_dn: ADMINS_DN,
    });
    expect((await lastAudit('group_mapping_created', group.id))!.actorType).toBe('api_key');
    const listed = await callApi(t.app, key, 'get_group_mappings', { target_group: { group_id: group.id } });
    expect(listed.json()).toEqual({ group_mappings: [mapping] });
    const duplicate = await callApi(t.app, key, 'add_group_mapping', {
      target_group: { group_id: group.id },
      target_group_mapping: { provider_id: provider.id, group_dn: 'cn=admins,ou=groups,dc=corp,dc=example' },
    });
    expect(duplicate.statusCode).toBe(409);
    const noDn = await callApi(t.app, key, 'add_group_mapping', {
      target_group: { group_id: group.id },
      target_group_mapping: { provider_id: provider.id },
    });
    expect(noDn.statusCode).toBe(400);
    expect(noDn.json().error_message).toMatch(/^target_group_mapping\.group_dn: /);
    const deleted = await callApi(t.app, key, 'delete_group_mapping', {
      target_group_mapping: { group_mapping_id: mapping.group_mapping_id },
    });
    expect(deleted.statusCode).toBe(200);
    expect(deleted.json()).toEqual({});
    expect(await mappingsOf(group.id)).toEqual([]);
    const again = await callApi(t.app, key, 'delete_group_mapping', {
      target_group_mapping: { group_mapping_id: mapping.group_mapping_id },
    });
    expect(again.statusCode).toBe(404);
  });

  it('refuses a key lacking what the group grants (403 naming it), and hides groups it may not see (404)', async () => {
    const { group, provider } = await world(['audit_view']);
    const key = await insertApiKey(db, { permissions: ['groups_view', 'groups_modify'] });
    const refused = await callApi(t.app, key, 'add_group_mapping', {
      target_group: { group_id: group.id },
      target_group_mapping: { provider_id: provider.id, all_users: true },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error_message).toContain('audit_view');
    const administrators = await systemGroupId(db, 'administrators');
    const hidden = await callApi(t.app, key, 'get_group_mappings', { target_group: { group_id: administrators } });
    expect(hidden.statusCode).toBe(404);
    expect(await mappingsOf(group.id)).toEqual([]);
  });

  it("marks the calls as Roster's own in the reference", async () => {
    const page = await t.app.inject('/api/public/reference');
    for (const name of ['get_group_mappings', 'add_group_mapping', 'delete_group_mapping']) {
      const at = page.body.indexOf(`id="${name}"`) === -1 ? page.body.indexOf(name) : page.body.indexOf(`id="${name}"`);
      expect(at, name).toBeGreaterThan(-1);
      expect(page.body.slice(at, at + 2000), name).toContain('Roster&#39;s own call');
    }
  });
});
