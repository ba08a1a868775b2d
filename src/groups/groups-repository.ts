import { and, eq, exists, inArray, isNotNull, or, sql, type SQL } from 'drizzle-orm';
import { alias, type AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { groupPermissions, groups, groupSettings, userGroups, users } from '../db/schema.js';
import { isUuid } from '../db/sql-helpers.js';

export const SYSTEM_GROUPS = {
  administrators: {
    name: 'Administrators',
    priority: 1,
    permissions: ['global_admin'],
    description: 'Full control of Roster.',
  },
  all_users: { name: 'All Users', priority: 1000, permissions: ['user'], description: 'Every user is a member.' },
} as const;

export type SystemGroupKey = keyof typeof SYSTEM_GROUPS;

/**
 * Creates Administrators and All Users when missing (first start); safe to run every start.
 * Administrators get require_2fa only when configured (docs/rules.md#groups).
 */
export async function seedSystemGroups(db: Database, options: { adminsRequire2fa?: boolean } = {}): Promise<void> {
  await db.transaction(async (tx) => {
    for (const [systemKey, group] of Object.entries(SYSTEM_GROUPS)) {
      const inserted = await tx
        .insert(groups)
        .values({
          name: group.name,
          description: group.description,
          priority: group.priority,
          isSystem: true,
          systemKey,
        })
        .onConflictDoNothing()
        .returning({ id: groups.id });
      const id = inserted[0]?.id;
      if (id) {
        await tx.insert(groupPermissions).values(group.permissions.map((permission) => ({ groupId: id, permission })));
        if (systemKey === 'administrators' && options.adminsRequire2fa) {
          await tx.insert(groupSettings).values({ groupId: id, key: 'require_2fa', value: true });
        }
      }
    }
  });
}

export async function systemGroupId(db: Database, key: SystemGroupKey): Promise<string> {
  const [row] = await db.select({ id: groups.id }).from(groups).where(eq(groups.systemKey, key));
  if (!row) throw new Error(`system group ${key} is missing; the database was not seeded`);
  return row.id;
}

export async function addMembers(db: Database, userId: string, groupIds: string[]): Promise<void> {
  if (groupIds.length === 0) return;
  await db
    .insert(userGroups)
    .values(groupIds.map((groupId) => ({ userId, groupId })))
    .onConflictDoNothing();
}

/** The permissions a user holds: the union over all their groups. */
export async function permissionsOfUser(db: Database, userId: string): Promise<Set<string>> {
  return (await accessOfUser(db, userId)).permissions;
}

/**
 * What a user effectively holds: their groups' permissions, plus — for a local user — those of
 * the auto_add_local_users groups they join at their next login. Taking over such an account
 * (setting its password, creating it) reaches all of that, so the no-way-up checks use this.
 */
export async function effectivePermissionsOf(db: Database, userId: string, realm: string): Promise<Set<string>> {
  const [held, autoAdd] = await Promise.all([
    permissionsOfUser(db, userId),
    realm === 'local' ? autoAddPermissions(db) : new Set<string>(),
  ]);
  return new Set([...held, ...autoAdd]);
}

/**
 * What the members of a group effectively hold together: effectivePermissionsOf for each of
 * them, united, in one statement. A group with auto_add_local_users on (or, with
 * `withLocalUsers`, one about to have it) counts every local user as a member: they join it at
 * their next login. A permission counts when some member is in a group granting it, or when it
 * comes from an auto-add group and some member is local. Each test runs once per granted
 * permission row (few), and stops at the first member found.
 */
export async function effectivePermissionsOfMembers(
  db: Database,
  groupId: string,
  options: { withLocalUsers?: boolean } = {},
): Promise<Set<string>> {
  const member = alias(userGroups, 'member');
  const held = alias(userGroups, 'held');
  const setsAutoAdd = (id: SQL | AnyPgColumn) =>
    sql`exists (select 1 from ${groupSettings} where ${groupSettings.groupId} = ${id} and ${groupSettings.key} = 'auto_add_local_users' and ${groupSettings.value} = 'true'::jsonb)`;
  const localsJoin = options.withLocalUsers ? sql`true` : setsAutoAdd(sql`${groupId}::uuid`);
  const one = { one: sql`1` };
  // Some member is in the group granting the permission row at hand...
  const memberHolds = db
    .select(one)
    .from(held)
    .innerJoin(member, eq(member.userId, held.userId))
    .where(and(eq(held.groupId, groupPermissions.groupId), eq(member.groupId, groupId)));
  // ... or the local users join, and one of them is in it.
  const localHolds = db
    .select(one)
    .from(held)
    .innerJoin(users, eq(users.id, held.userId))
    .where(and(eq(held.groupId, groupPermissions.groupId), eq(users.realm, 'local')));
  const localMember = or(
    exists(
      db
        .select(one)
        .from(member)
        .innerJoin(users, eq(users.id, member.userId))
        .where(and(eq(member.groupId, groupId), eq(users.realm, 'local'))),
    ),
    and(localsJoin, exists(db.select(one).from(users).where(eq(users.realm, 'local')))),
  );
  const rows = await db
    .selectDistinct({ permission: groupPermissions.permission })
    .from(groupPermissions)
    .where(
      or(
        exists(memberHolds),
        and(localsJoin, exists(localHolds)),
        and(setsAutoAdd(groupPermissions.groupId), localMember),
      ),
    );
  return new Set(rows.map((row) => row.permission));
}

/** The permissions the groups `groupIds` grant together. */
export async function permissionsOfGroups(db: Database, groupIds: string[]): Promise<Set<string>> {
  if (groupIds.length === 0) return new Set();
  const rows = await db
    .select({ permission: groupPermissions.permission })
    .from(groupPermissions)
    .where(inArray(groupPermissions.groupId, groupIds));
  return new Set(rows.map((row) => row.permission));
}

/** The permissions of every group with auto_add_local_users on (what a new local user gets). */
export async function autoAddPermissions(db: Database): Promise<Set<string>> {
  const rows = await db
    .select({ permission: groupPermissions.permission })
    .from(groupPermissions)
    .innerJoin(groupSettings, eq(groupSettings.groupId, groupPermissions.groupId))
    .where(and(eq(groupSettings.key, 'auto_add_local_users'), sql`${groupSettings.value} = 'true'::jsonb`));
  return new Set(rows.map((row) => row.permission));
}

/** A user's groups and the permissions they add up to, in one query. */
export async function accessOfUser(
  db: Database,
  userId: string,
): Promise<{ permissions: Set<string>; groupIds: Set<string> }> {
  const rows = await db
    .select({ groupId: userGroups.groupId, permission: groupPermissions.permission })
    .from(userGroups)
    .leftJoin(groupPermissions, eq(groupPermissions.groupId, userGroups.groupId))
    .where(eq(userGroups.userId, userId));
  const permissions = new Set<string>();
  const groupIds = new Set<string>();
  for (const row of rows) {
    groupIds.add(row.groupId);
    if (row.permission) permissions.add(row.permission);
  }
  return { permissions, groupIds };
}

/**
 * How many users could administer the system: enabled, not locked, local with a password (so
 * they can log in to Roster itself), and in a group granting global_admin. Every change that
 * could lower it checks it is still above zero.
 */
export async function countActiveGlobalAdmins(db: Database): Promise<number> {
  const adminGroups = db
    .select({ groupId: groupPermissions.groupId })
    .from(groupPermissions)
    .where(eq(groupPermissions.permission, 'global_admin'));
  const [row] = await db
    .select({ count: sql<number>`count(distinct ${users.id})::int` })
    .from(users)
    .innerJoin(userGroups, eq(userGroups.userId, users.id))
    .where(
      and(
        inArray(userGroups.groupId, adminGroups),
        eq(users.disabled, false),
        eq(users.locked, false),
        eq(users.realm, 'local'),
        isNotNull(users.passwordHash),
      ),
    );
  return row?.count ?? 0;
}

export class LastAdminError extends Error {
  constructor() {
    super(
      'This change would leave no enabled, unlocked local user holding global_admin who can log in: Roster would have no one left to administer it.',
    );
  }
}

/**
 * Call inside the transaction of a change, after making it: throws (rolling the change back)
 * when no enabled user holding global_admin would remain.
 */
export async function assertAdministrable(db: Database): Promise<void> {
  if ((await countActiveGlobalAdmins(db)) === 0) throw new LastAdminError();
}

/** A user as membership needs them (id, names, and realm for what they hold); undefined for an unknown id. */
export async function findMemberRef(
  db: Database,
  id: string,
): Promise<
  { id: string; username: string; firstName: string | null; lastName: string | null; realm: string } | undefined
> {
  if (!isUuid(id)) return undefined;
  const [row] = await db
    .select({
      id: users.id,
      username: users.username,
      firstName: users.firstName,
      lastName: users.lastName,
      realm: users.realm,
    })
    .from(users)
    .where(eq(users.id, id));
  return row;
}
