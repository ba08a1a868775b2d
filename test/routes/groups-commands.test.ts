// The group commands called directly on a database (no HTTP): each one's success and audit row,
// each refusal's Problem and audit row, and nothing half-written. changeMembership above all: the
// group page, the user page and the API all go through it.
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, userGroups, type Group, type User } from '../../src/db/schema.js';
import {
  changeMembership,
  createGroup,
  deleteGroup,
  setGroupPermissions,
  updateGroup,
} from '../../src/groups/groups-commands.js';
import { accessOfUser, findGroup, systemGroupId } from '../../src/groups/groups-queries.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/security/actor.js';
import type { Permission } from '../../src/security/permissions.js';
import { findUserByUsername } from '../../src/users/users-queries.js';
import { createIdentityProvider, seedUser } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let db: TestApp['handle']['db'];

/** The Actor a logged-in user is, as the app builds it. */
async function actorOf(user: User): Promise<Actor> {
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

async function groupGranting(name: string, priority: number, permissions: Permission[]): Promise<Group> {
  const created = await createGroup(db, SYSTEM_ACTOR, { name, description: '', priority });
  if (!created.ok) throw new Error(created.problem.message);
  const granted = await setGroupPermissions(db, SYSTEM_ACTOR, created.value, permissions);
  if (!granted.ok) throw new Error(granted.problem.message);
  return created.value;
}

async function userIn(username: string, group: Group | null): Promise<User> {
  const user = await seedUser(db, username, USER_PASSWORD);
  if (group) {
    const added = await changeMembership(db, SYSTEM_ACTOR, group, user, 'add');
    if (!added.ok) throw new Error(added.problem.message);
  }
  return user;
}

const isMember = async (user: User, group: Group) =>
  (
    await db
      .select()
      .from(userGroups)
      .where(and(eq(userGroups.userId, user.id), eq(userGroups.groupId, group.id)))
  ).length === 1;

/** The audit rows of `action` by `actor` (newest last). */
const auditOf = (action: string, actor: User) =>
  db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.actorId, actor.id)))
    .orderBy(auditEvents.id);

let managers: Group;
let staff: Group;
let deleters: Group;
let manager: User;
let viewer: User;
let bob: User;
let admin: User;
let administrators: Group;

beforeAll(async () => {
  t = await createTestApp();
  db = t.handle.db;
  admin = (await findUserByUsername(db, 'admin'))!;
  administrators = (await findGroup(db, await systemGroupId(db, 'administrators')))!;
  managers = await groupGranting('Managers', 10, ['groups_view', 'groups_modify', 'users_view']);
  staff = await groupGranting('Staff', 20, ['users_view']);
  deleters = await groupGranting('Deleters', 30, ['users_delete']);
  const viewers = await groupGranting('Viewers', 40, ['groups_view', 'users_view']);
  manager = await userIn('manager', managers);
  viewer = await userIn('viewer', viewers);
  bob = await userIn('bob', null);
});

afterAll(async () => {
  await t.close();
});

describe('changeMembership', () => {
  it('adds a member and audits it once', async () => {
    const result = await changeMembership(db, await actorOf(manager), staff, bob, 'add');
    expect(result).toEqual({ ok: true, value: undefined });
    expect(await isMember(bob, staff)).toBe(true);
    const rows = await auditOf('group_member_added', manager);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'success', targetType: 'group', targetId: staff.id });
    expect(rows[0]!.details).toMatchObject({ member: { id: bob.id, name: 'bob' } });
  });

  it('refuses to add someone already a member (a conflict, nothing audited)', async () => {
    const result = await changeMembership(db, await actorOf(manager), staff, bob, 'add');
    expect(result).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'already_member' } });
    expect(await auditOf('group_member_added', manager)).toHaveLength(1);
  });

  it('removes a member and audits it once', async () => {
    const result = await changeMembership(db, await actorOf(manager), staff, bob, 'remove');
    expect(result.ok).toBe(true);
    expect(await isMember(bob, staff)).toBe(false);
    const rows = await auditOf('group_member_removed', manager);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details).toMatchObject({ member: { id: bob.id, name: 'bob' } });
  });

  it('refuses without the right to change the group, audited once, nothing written', async () => {
    for (const change of ['add', 'remove'] as const) {
      const before = await isMember(bob, staff);
      const result = await changeMembership(db, await actorOf(viewer), staff, bob, change);
      expect(result).toMatchObject({
        ok: false,
        problem: { kind: 'forbidden', lacking: 'groups_modify', message: expect.stringContaining('Staff') },
      });
      expect(await isMember(bob, staff)).toBe(before);
    }
    const refusals = await auditOf('authz_fail', viewer);
    expect(refusals).toHaveLength(2);
    expect(refusals[0]).toMatchObject({ outcome: 'failure', targetType: 'group', targetId: staff.id });
    expect(await auditOf('group_member_added', viewer)).toHaveLength(0);
  });

  it('refuses a system group to someone without groups_modify_system', async () => {
    const result = await changeMembership(db, await actorOf(manager), administrators, bob, 'add');
    expect(result).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'groups_modify_system' } });
    expect(await isMember(bob, administrators)).toBe(false);
  });

  it('refuses (no way up) a group granting what the actor lacks, audited once', async () => {
    const before = (await auditOf('authz_fail', manager)).length;
    const result = await changeMembership(db, await actorOf(manager), deleters, bob, 'add');
    expect(result).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'users_delete' } });
    expect(await isMember(bob, deleters)).toBe(false);
    const refusals = await auditOf('authz_fail', manager);
    expect(refusals).toHaveLength(before + 1);
    expect(refusals.at(-1)).toMatchObject({ targetType: 'group', targetId: deleters.id });
    expect(refusals.at(-1)!.details).toMatchObject({ lacking: ['users_delete'] });
  });

  it('refuses (no way up) reaching a stronger user, audited once against that user', async () => {
    for (const change of ['add', 'remove'] as const) {
      if (change === 'remove') {
        // The admin is in Staff (put there by the system) for the manager to try removing.
        expect((await changeMembership(db, SYSTEM_ACTOR, staff, admin, 'add')).ok).toBe(true);
      }
      const before = (await auditOf('authz_fail', manager)).length;
      const result = await changeMembership(db, await actorOf(manager), staff, admin, change);
      expect(result).toMatchObject({
        ok: false,
        problem: { kind: 'forbidden', reason: 'stronger_user', lacking: 'users_modify_admin' },
      });
      expect(await isMember(admin, staff)).toBe(change === 'remove');
      const refusals = await auditOf('authz_fail', manager);
      expect(refusals).toHaveLength(before + 1);
      expect(refusals.at(-1)).toMatchObject({ targetType: 'user', targetId: admin.id });
      expect((refusals.at(-1)!.details as { lacking: string[] }).lacking[0]).toBe('users_modify_admin');
    }
    expect(await auditOf('group_member_removed', manager)).toHaveLength(1); // bob's, above
  });

  it('keeps the last administrator: the removal is refused and rolled back', async () => {
    const result = await changeMembership(db, SYSTEM_ACTOR, administrators, admin, 'remove');
    expect(result).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'last_admin' } });
    expect(await isMember(admin, administrators)).toBe(true);
    const removed = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'group_member_removed'), eq(auditEvents.targetId, administrators.id)));
    expect(removed).toHaveLength(0);
  });

  it('never removes anyone from All Users', async () => {
    const allUsers = (await findGroup(db, await systemGroupId(db, 'all_users')))!;
    const result = await changeMembership(db, SYSTEM_ACTOR, allUsers, bob, 'remove');
    expect(result).toMatchObject({ ok: false, problem: { kind: 'conflict' } });
    expect(await isMember(bob, allUsers)).toBe(true);
  });
});

describe('changeMembership and SSO group mappings (docs/rules.md#sso-group-mappings)', () => {
  it("adding a member whom a mapping made makes the membership manual, audited; without the group's permissions it stays the mapping's", async () => {
    const provider = await createIdentityProvider(db, { name: 'Corp LDAP' });
    const mapped = await groupGranting('Mapped', 60, []);
    const granting = await groupGranting('Mapped Auditors', 61, ['audit_view']);
    const carol = await userIn('carol', null);
    const dave = await userIn('dave', null);
    await db.insert(userGroups).values([
      { userId: carol.id, groupId: mapped.id, sourceProviderId: provider.id },
      { userId: dave.id, groupId: granting.id, sourceProviderId: provider.id },
    ]);
    const source = async (user: User, group: Group) =>
      (
        await db
          .select({ source: userGroups.sourceProviderId })
          .from(userGroups)
          .where(and(eq(userGroups.userId, user.id), eq(userGroups.groupId, group.id)))
      )[0]?.source;

    expect(await changeMembership(db, await actorOf(manager), mapped, carol, 'add')).toEqual({
      ok: true,
      value: undefined,
    });
    expect(await source(carol, mapped)).toBeNull();
    const [audit] = (await auditOf('group_member_added', manager)).slice(-1);
    expect(audit).toMatchObject({ targetId: mapped.id });
    expect(audit!.details).toMatchObject({
      member: { id: carol.id, name: 'carol' },
      changes: { source: { old: 'Corp LDAP', new: 'manual' } },
    });
    // Manual now: adding again is "already a member".
    expect(await changeMembership(db, await actorOf(manager), mapped, carol, 'add')).toMatchObject({
      ok: false,
      problem: { reason: 'already_member' },
    });
    // No way up applies to the conversion as to any add.
    expect(await changeMembership(db, await actorOf(manager), granting, dave, 'add')).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden', lacking: 'audit_view' },
    });
    expect(await source(dave, granting)).toBe(provider.id);
  });
});

describe('the other group commands', () => {
  it('createGroup refuses a clash of name and priority with both field errors, writing nothing', async () => {
    const result = await createGroup(db, SYSTEM_ACTOR, { name: 'staff', description: '', priority: 10 });
    expect(result).toMatchObject({
      ok: false,
      problem: { kind: 'conflict', field: 'name', fields: { name: expect.any(String), priority: expect.any(String) } },
    });
  });

  it('updateGroup refuses renaming a system group (invalid, on the name field)', async () => {
    const result = await updateGroup(db, SYSTEM_ACTOR, administrators, {
      name: 'Admins',
      description: administrators.description,
      priority: administrators.priority,
    });
    expect(result).toMatchObject({ ok: false, problem: { kind: 'invalid', field: 'name' } });
    expect((await findGroup(db, administrators.id))!.name).toBe('Administrators');
  });

  it('setGroupPermissions refuses (no way up) granting what the actor lacks, audited', async () => {
    const result = await setGroupPermissions(db, await actorOf(manager), staff, ['users_view', 'audit_view']);
    expect(result).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'audit_view' } });
    const refusals = await auditOf('authz_fail', manager);
    expect(refusals.at(-1)).toMatchObject({ targetType: 'group', targetId: staff.id });
  });

  it('setGroupPermissions keeps the last administrator: revoking global_admin is rolled back', async () => {
    const result = await setGroupPermissions(db, SYSTEM_ACTOR, administrators, ['user']);
    expect(result).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'last_admin' } });
    expect((await accessOfUser(db, admin.id)).permissions.has('global_admin')).toBe(true);
  });

  it('deleteGroup deletes and audits; a system group is refused', async () => {
    const doomed = await groupGranting('Doomed', 50, []);
    const deleted = await deleteGroup(db, SYSTEM_ACTOR, doomed);
    expect(deleted.ok).toBe(true);
    expect(await findGroup(db, doomed.id)).toBeUndefined();
    const rows = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'group_deleted'), eq(auditEvents.targetId, doomed.id)));
    expect(rows).toHaveLength(1);
    const refused = await deleteGroup(db, SYSTEM_ACTOR, administrators);
    expect(refused).toMatchObject({ ok: false, problem: { kind: 'conflict' } });
    expect(await findGroup(db, administrators.id)).toBeDefined();
  });
});
