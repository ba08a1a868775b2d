// Reads of groups, their members, permissions and settings (docs/rules.md#groups): no audit,
// no rules, no transactions of their own. Changes go through groups-commands.ts.
import { and, asc, desc, eq, exists, inArray, isNotNull, notExists, or, sql, type SQL } from 'drizzle-orm';
import { alias, type AnyPgColumn } from 'drizzle-orm/pg-core';
import type { GroupSortKey } from '../schemas/groups.js';
import type { Database } from '../db/client.js';
import {
  groupPermissions,
  groups,
  groupSettings,
  identityProviders,
  userGroups,
  users,
  type Group,
  type User,
} from '../db/schema.js';
import type { SettingValue } from '../settings/catalogue.js';
import type { GroupWithSettings } from '../settings/effective-settings.js';
import { isUuid, keysetPage, userSearchCondition, type KeysetPosition } from '../db/sql-helpers.js';
import type { SystemGroupKey } from './groups-seed.js';

/** A user joining or leaving a group: their realm tells what they hold (auto-add groups for local users). */
export type MemberRef = Pick<User, 'id' | 'username'> & { realm: string };

export const GROUP_SORTS: Record<GroupSortKey, SQL | AnyPgColumn> = {
  name: sql`lower(${groups.name})`,
  priority: groups.priority,
  description: groups.description,
  members: sql`member_count`,
};
export type GroupSort = GroupSortKey;

export async function listGroups(db: Database, sort: GroupSort, direction: 'asc' | 'desc') {
  const order = direction === 'desc' ? desc : asc;
  const memberCount = sql<number>`(select count(*)::int from ${userGroups} where ${userGroups.groupId} = ${groups.id})`;
  return db
    .select({
      id: groups.id,
      name: groups.name,
      description: groups.description,
      priority: groups.priority,
      isSystem: groups.isSystem,
      memberCount: memberCount.as('member_count'),
    })
    .from(groups)
    .orderBy(order(GROUP_SORTS[sort]), asc(groups.priority));
}

/** Every group, lightly (no member counts), by priority: for choosing one. */
export function groupChoices(db: Database) {
  return db
    .select({ id: groups.id, name: groups.name, priority: groups.priority, isSystem: groups.isSystem })
    .from(groups)
    .orderBy(groups.priority);
}

export async function findGroup(db: Database, id: string): Promise<Group | undefined> {
  if (!isUuid(id)) return undefined;
  const [group] = await db.select().from(groups).where(eq(groups.id, id));
  return group;
}

export async function permissionsOfGroup(db: Database, groupId: string): Promise<string[]> {
  const rows = await db
    .select({ permission: groupPermissions.permission })
    .from(groupPermissions)
    .where(eq(groupPermissions.groupId, groupId))
    .orderBy(groupPermissions.permission);
  return rows.map((row) => row.permission);
}

export async function settingsOfGroup(db: Database, groupId: string): Promise<Record<string, SettingValue>> {
  const rows = await db.select().from(groupSettings).where(eq(groupSettings.groupId, groupId));
  return Object.fromEntries(rows.map((row) => [row.key, row.value as SettingValue]));
}

export type MemberGroup = GroupWithSettings &
  Pick<Group, 'isSystem' | 'systemKey'> & { settings: Record<string, SettingValue> };

/**
 * The user's groups by priority, with the settings each sets: the input of the
 * effective-settings resolver, and the user's group list.
 */
export async function groupsWithSettingsOfUser(db: Database, userId: string): Promise<MemberGroup[]> {
  const rows = await db
    .select({
      id: groups.id,
      name: groups.name,
      priority: groups.priority,
      isSystem: groups.isSystem,
      systemKey: groups.systemKey,
      key: groupSettings.key,
      value: groupSettings.value,
    })
    .from(userGroups)
    .innerJoin(groups, eq(groups.id, userGroups.groupId))
    .leftJoin(groupSettings, eq(groupSettings.groupId, groups.id))
    .where(eq(userGroups.userId, userId))
    .orderBy(groups.priority);
  const byId = new Map<string, MemberGroup>();
  for (const row of rows) {
    const { key, value, ...group } = row;
    const entry = byId.get(row.id) ?? { ...group, settings: {} };
    if (key !== null) entry.settings[key] = value as SettingValue;
    byId.set(row.id, entry);
  }
  return [...byId.values()];
}

export const MEMBERS_PER_PAGE = 25;

/**
 * One page of a group's members by user name. Next and Previous continue from a cursor (keyset),
 * so the last page of a 10,000-member group reads what the first reads; without one, the page
 * number applies.
 */
export async function membersOfGroup(db: Database, groupId: string, position: KeysetPosition) {
  const name = sql`lower(${users.username})`;
  const backwards = position.before !== undefined;
  const cursor = position.before ?? position.after;
  const direction = sql.raw(backwards ? 'desc' : 'asc');
  const beyond = cursor
    ? sql`(${name}, ${users.id}) ${sql.raw(backwards ? '<' : '>')} (${cursor.value}, ${cursor.id}::uuid)`
    : undefined;
  // The member count rides along on each row (an uncorrelated subquery, computed once): one statement.
  const memberCount = sql<number>`(select count(*)::int from ${userGroups} where ${userGroups.groupId} = ${groupId})`;
  const fetched = await db
    .select({
      id: users.id,
      username: users.username,
      firstName: users.firstName,
      lastName: users.lastName,
      disabled: users.disabled,
      locked: users.locked,
      // Null: a manual member; else the identity provider whose SSO group mapping made the membership.
      sourceProviderName: identityProviders.name,
      sortKey: sql<string>`${name}`,
      total: memberCount.mapWith(Number),
    })
    .from(userGroups)
    .innerJoin(users, eq(users.id, userGroups.userId))
    .leftJoin(identityProviders, eq(identityProviders.id, userGroups.sourceProviderId))
    .where(and(eq(userGroups.groupId, groupId), beyond))
    .orderBy(sql`${name} ${direction}`, sql`${users.id} ${direction}`)
    .limit(MEMBERS_PER_PAGE + 1)
    .offset(cursor ? 0 : (position.page - 1) * MEMBERS_PER_PAGE);
  // An empty page (an empty group, or past the end) asks for the count on its own.
  const total =
    fetched[0]?.total ?? (await db.select({ n: memberCount.mapWith(Number) }).from(sql`(select 1) one`))[0]?.n ?? 0;
  const { rows, ...paging } = keysetPage(fetched, MEMBERS_PER_PAGE, position);
  return { rows: rows.map(({ sortKey: _key, total: _total, ...row }) => row), total, ...paging };
}

/** Below this many users outside a group, the picker lists them all in a select instead of a search. */
export const PICKER_SELECT_LIMIT = 50;

/**
 * Every user outside the group when there are fewer than PICKER_SELECT_LIMIT, else null (the
 * picker searches). `memberCount` is the group's size: counting users only up to it plus the
 * limit answers "fewer than 50 outside?" without listing a large group's outsiders (a plain
 * scan of at most that many rows; looking for outsiders directly would probe the group for each).
 */
export async function nonMemberChoices(
  db: Database,
  groupId: string,
  memberCount: number,
): Promise<Array<{ id: string; username: string }> | null> {
  const enough = memberCount + PICKER_SELECT_LIMIT;
  const [counted] = await db.select({ n: sql<number>`count(*)::int` }).from(
    db
      .select({ one: sql`1` })
      .from(users)
      .limit(enough)
      .as('some_users'),
  );
  if ((counted?.n ?? 0) >= enough) return null;
  return db
    .select({ id: users.id, username: users.username })
    .from(users)
    .where(
      notExists(
        db
          .select({ one: sql`1` })
          .from(userGroups)
          .where(and(eq(userGroups.userId, users.id), eq(userGroups.groupId, groupId))),
      ),
    )
    .orderBy(sql`lower(${users.username})`)
    .limit(PICKER_SELECT_LIMIT);
}

/** Up to 10 users matching `search` who are not yet in the group: the Add User picker. */
export async function memberCandidates(db: Database, groupId: string, search: string) {
  const matches = userSearchCondition(search);
  if (matches === undefined) return [];
  return db
    .select({ id: users.id, username: users.username, firstName: users.firstName, lastName: users.lastName })
    .from(users)
    .where(
      and(
        matches,
        notExists(
          db
            .select({ one: sql`1` })
            .from(userGroups)
            .where(and(eq(userGroups.userId, users.id), eq(userGroups.groupId, groupId))),
        ),
      ),
    )
    .orderBy(sql`lower(${users.username})`)
    .limit(10);
}

/** Groups whose `auto_add_local_users` is on: local users join them at creation and login. */
export async function autoAddGroups(db: Database): Promise<Array<{ id: string; name: string }>> {
  return db
    .select({ id: groups.id, name: groups.name })
    .from(groupSettings)
    .innerJoin(groups, eq(groups.id, groupSettings.groupId))
    .where(and(eq(groupSettings.key, 'auto_add_local_users'), sql`${groupSettings.value} = 'true'::jsonb`));
}

export async function systemGroupId(db: Database, key: SystemGroupKey): Promise<string> {
  const [row] = await db.select({ id: groups.id }).from(groups).where(eq(groups.systemKey, key));
  if (!row) throw new Error(`system group ${key} is missing; the database was not seeded`);
  return row.id;
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
