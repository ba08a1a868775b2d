// The user commands called directly on a database (no HTTP): each one's success and audit row,
// each refusal's Problem (with the reason a caller tells them apart by) and audit row, and
// nothing half-written.
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, type Group, type User } from '../../src/db/schema.js';
import {
  changeMembership,
  createGroup,
  setGroupPermissions,
  setGroupSetting,
} from '../../src/groups/groups-commands.js';
import { accessOfUser } from '../../src/groups/groups-queries.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/security/actor.js';
import type { Permission } from '../../src/security/permissions.js';
import { saveUserSettings } from '../../src/users/user-settings-commands.js';
import { userSettingValues } from '../../src/users/user-settings-queries.js';
import { createUser, deleteUser, resetTwoFactor, updateUser } from '../../src/users/users-commands.js';
import { findUserById, findUserByUsername } from '../../src/users/users-queries.js';
import { formValuesOf, validateUser, type UserInput } from '../../src/users/user-validation.js';
import { seedUser } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let db: TestApp['handle']['db'];
let admin: User;
let manager: User;
let managerActor: Actor;

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

/** A user's fields as the form gives them, with `changes`. */
function inputOf(user: User, changes: Record<string, unknown> = {}): UserInput {
  const validation = validateUser({ ...formValuesOf(user), ...changes }, { mode: 'update', passwordMinLength: 12 });
  if (!validation.ok) throw new Error(JSON.stringify(validation.errors));
  return validation.user;
}

function newInput(username: string): UserInput {
  const validation = validateUser({ username, realm: 'ldap' }, { mode: 'create', passwordMinLength: 12 });
  if (!validation.ok) throw new Error(JSON.stringify(validation.errors));
  return validation.user;
}

const auditRows = (action: string, targetId: string) =>
  db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)))
    .orderBy(auditEvents.id);

beforeAll(async () => {
  t = await createTestApp();
  db = t.handle.db;
  admin = (await findUserByUsername(db, 'admin'))!;
  const created = await createGroup(db, SYSTEM_ACTOR, { name: 'User Managers', description: '', priority: 10 });
  if (!created.ok) throw new Error(created.problem.message);
  const managers: Group = created.value;
  await setGroupPermissions(db, SYSTEM_ACTOR, managers, ['users_view', 'users_create', 'users_modify', 'users_delete']);
  manager = await seedUser(db, 'manager', USER_PASSWORD);
  await changeMembership(db, SYSTEM_ACTOR, managers, manager, 'add');
  managerActor = await actorOf(manager);
});

afterAll(async () => {
  await t.close();
});

describe('createUser', () => {
  it('creates the user in All Users and audits it', async () => {
    const result = await createUser(db, managerActor, newInput('carol'), undefined);
    expect(result.ok).toBe(true);
    const carol = result.ok ? result.value : null;
    expect(carol).toMatchObject({ username: 'carol', realm: 'ldap' });
    const rows = await auditRows('user_created', carol!.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ outcome: 'success', actorId: manager.id });
  });

  it('refuses a duplicate User Name (ignoring case) as a conflict on the username field', async () => {
    const result = await createUser(db, managerActor, newInput('CAROL'), undefined);
    expect(result).toMatchObject({
      ok: false,
      problem: { kind: 'conflict', reason: 'duplicate_username', field: 'username' },
    });
  });

  it('refuses (no way up) a local user who would join what the actor lacks, audited, nothing written', async () => {
    const autoAdd = await createGroup(db, SYSTEM_ACTOR, { name: 'Auditors', description: '', priority: 20 });
    if (!autoAdd.ok) throw new Error(autoAdd.problem.message);
    await setGroupPermissions(db, SYSTEM_ACTOR, autoAdd.value, ['audit_view']);
    await setGroupSetting(db, SYSTEM_ACTOR, autoAdd.value, 'auto_add_local_users', true);
    const input = validateUser(
      { username: 'dave', realm: 'local', password: USER_PASSWORD },
      { mode: 'create', passwordMinLength: 12 },
    );
    if (!input.ok) throw new Error('bad input');
    const result = await createUser(db, managerActor, input.user, input.password);
    expect(result).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'audit_view' } });
    expect(await findUserByUsername(db, 'dave')).toBeUndefined();
    const refusals = await db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'authz_fail'), eq(auditEvents.actorId, manager.id)));
    expect(refusals).toHaveLength(1);
    await setGroupSetting(db, SYSTEM_ACTOR, autoAdd.value, 'auto_add_local_users', false);
  });
});

describe('updateUser', () => {
  it('saves at the expected version and audits the changed fields', async () => {
    const carol = (await findUserByUsername(db, 'carol'))!;
    const result = await updateUser(
      db,
      managerActor,
      carol.id,
      carol.version,
      inputOf(carol, { first_name: 'Carol' }),
      undefined,
    );
    expect(result).toMatchObject({ ok: true, value: { firstName: 'Carol', version: carol.version + 1 } });
    const rows = await auditRows('user_updated', carol.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details).toMatchObject({ changes: { first_name: { old: '', new: 'Carol' } } });
  });

  it('refuses a stale version (reason stale), writing nothing', async () => {
    const carol = (await findUserByUsername(db, 'carol'))!;
    const result = await updateUser(
      db,
      managerActor,
      carol.id,
      carol.version - 1,
      inputOf(carol, { last_name: 'X' }),
      undefined,
    );
    expect(result).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'stale' } });
    expect((await findUserById(db, carol.id))!.lastName).toBe(carol.lastName);
  });

  it('refuses (no way up) changing a stronger user, audited against them, writing nothing', async () => {
    const result = await updateUser(
      db,
      managerActor,
      admin.id,
      admin.version,
      inputOf(admin, { first_name: 'Mallory' }),
      undefined,
    );
    expect(result).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden', reason: 'stronger_user', lacking: 'users_modify_admin' },
    });
    expect((await findUserById(db, admin.id))!.firstName).toBe(admin.firstName);
    const refusals = await auditRows('authz_fail', admin.id);
    expect(refusals.at(-1)).toMatchObject({ actorId: manager.id, outcome: 'failure' });
  });

  it('keeps the last administrator (reason last_admin): disabling them is rolled back, nothing audited', async () => {
    const current = (await findUserById(db, admin.id))!;
    const result = await updateUser(
      db,
      SYSTEM_ACTOR,
      admin.id,
      current.version,
      inputOf(current, { disabled: 'on' }),
      undefined,
    );
    expect(result).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'last_admin' } });
    const after = (await findUserById(db, admin.id))!;
    expect(after.disabled).toBe(false);
    expect(after.version).toBe(current.version);
    expect(await auditRows('user_updated', admin.id)).toHaveLength(0);
  });

  it('answers not_found for a user that is gone', async () => {
    const carol = (await findUserByUsername(db, 'carol'))!;
    const result = await updateUser(db, managerActor, crypto.randomUUID(), 1, inputOf(carol), undefined);
    expect(result).toMatchObject({ ok: false, problem: { kind: 'not_found' } });
  });
});

describe('resetTwoFactor, deleteUser and the user settings', () => {
  it('leaves a user without a second factor alone, auditing nothing', async () => {
    const carol = (await findUserByUsername(db, 'carol'))!;
    const result = await resetTwoFactor(db, managerActor, carol.id);
    expect(result).toMatchObject({ ok: true, value: { hadFactor: false } });
    expect(await auditRows('user_2fa_reset', carol.id)).toHaveLength(0);
  });

  it('saves the changed settings in one audit event, and none when nothing changed', async () => {
    const carol = (await findUserByUsername(db, 'carol'))!;
    const values = new Map<string, string | undefined>([['theme', 'Dark']]);
    await saveUserSettings(db, managerActor, carol, values);
    await saveUserSettings(db, managerActor, carol, values);
    expect(await userSettingValues(db, carol.id)).toMatchObject({ theme: 'Dark' });
    expect(await auditRows('user_settings_changed', carol.id)).toHaveLength(1);
  });

  it('refuses deleting the last administrator (rolled back), and deletes another user with an audit row', async () => {
    const kept = await deleteUser(db, SYSTEM_ACTOR, admin.id);
    expect(kept).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'last_admin' } });
    expect(await findUserById(db, admin.id)).toBeDefined();
    const carol = (await findUserByUsername(db, 'carol'))!;
    const deleted = await deleteUser(db, managerActor, carol.id);
    expect(deleted.ok).toBe(true);
    expect(await findUserById(db, carol.id)).toBeUndefined();
    expect(await auditRows('user_deleted', carol.id)).toHaveLength(1);
    expect(await deleteUser(db, managerActor, carol.id)).toMatchObject({ ok: false, problem: { kind: 'not_found' } });
  });
});
