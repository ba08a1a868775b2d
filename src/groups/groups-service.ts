import { and, asc, desc, eq, notExists, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { GroupSortKey } from '../schemas/groups.js';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import type { Actor } from '../security/actor.js';
import { lackingMessage, permissionChange, permissionsLacking } from '../security/permissions.js';
import { nameProblem } from '../security/text-rules.js';
import type { Database } from '../db/client.js';
import { groupPermissions, groups, groupSettings, userGroups, users, type Group, type User } from '../db/schema.js';
import type { SettingValue } from '../settings/catalogue.js';
import type { GroupWithSettings } from '../settings/effective-settings.js';
import { isUniqueViolation, isUuid, keysetPage, userSearchCondition, type KeysetPosition } from '../db/sql-helpers.js';
import { assertAdministrable, LastAdminError } from './groups-repository.js';
import { refuseReachingMembers, refuseReachingUser } from './stronger-users.js';

export type GroupResult<T = Group> =
  | { ok: true; value: T }
  | {
      ok: false;
      field?: string;
      message: string;
      status: number;
      /** every field's error, when more than one */ errors?: Record<string, string>;
    };

const fail = (message: string, status = 409, field?: string) => ({ ok: false, message, status, field }) as const;
const groupTarget = (group: Pick<Group, 'id' | 'name'>) => ({ type: 'group', id: group.id, name: group.name });

/** A user joining or leaving a group: their realm tells what they hold (auto-add groups for local users). */
export type MemberRef = Pick<User, 'id' | 'username'> & { realm: string };

/**
 * No way up: refuses (403, audited in the same transaction) when `conferred` holds a
 * permission the actor lacks; null when the actor holds all of it.
 */
async function refuseIfLacking(
  db: Database,
  actor: Actor,
  group: Pick<Group, 'id' | 'name'>,
  action: string,
  conferred: Iterable<string>,
) {
  const lacking = permissionsLacking(actor.permissions, conferred);
  if (lacking.length === 0) return null;
  const message = lackingMessage(action, lacking);
  await recordRefusal(db, actor, groupTarget(group), message, lacking);
  return fail(message, 403);
}

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
      sortKey: sql<string>`${name}`,
      total: memberCount.mapWith(Number),
    })
    .from(userGroups)
    .innerJoin(users, eq(users.id, userGroups.userId))
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

export interface GroupInput {
  name: string;
  description: string;
  priority: number;
}

export function validateGroup(
  body: Record<string, unknown>,
): { ok: true; value: GroupInput } | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const name = String(body.name ?? '').trim();
  const description = String(body.description ?? '').trim();
  const priorityText = String(body.priority ?? '').trim();
  const nameIssue = nameProblem(name);
  if (name === '') errors.name = 'Name is required.';
  else if ([...name].length > 255) errors.name = 'Name must be at most 255 characters.';
  else if (nameIssue) errors.name = `Name ${nameIssue}`;
  if ([...description].length > 10_000) errors.description = 'Description must be at most 10,000 characters.';
  else if (description.includes('\u0000')) errors.description = 'Description must not contain a NUL character.';
  const priority = Number(priorityText);
  if (!/^\d+$/.test(priorityText) || priority < 1 || priority > 1000) {
    errors.priority = 'Priority must be a whole number from 1 to 1000 (lower numbers win).';
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, value: { name, description, priority } };
}

/** A clash of name or priority with another group, as a field error. */
async function clash(db: Database, input: GroupInput, exceptId?: string) {
  const others = await db
    .select({ id: groups.id, name: groups.name, priority: groups.priority })
    .from(groups)
    .where(
      sql`(lower(${groups.name}) = lower(${input.name}) or ${groups.priority} = ${input.priority}) ${exceptId ? sql`and ${groups.id} <> ${exceptId}` : sql``}`,
    );
  // Both clashes at once: the form shows every error in one go.
  const errors: Record<string, string> = {};
  if (others.some((g) => g.name.toLowerCase() === input.name.toLowerCase()))
    errors.name = 'A group with this name already exists.';
  const samePriority = others.find((g) => g.priority === input.priority);
  if (samePriority)
    errors.priority = `Priority ${input.priority} is already used by group ${samePriority.name}; priorities are unique.`;
  const [field, message] = Object.entries(errors)[0] ?? [];
  return field ? { ...fail(message!, 409, field), errors } : null;
}

async function guarded<T>(work: () => Promise<GroupResult<T>>): Promise<GroupResult<T>> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LastAdminError) return fail(error.message);
    if (isUniqueViolation(error))
      return fail('Another change used this name or priority at the same moment; try again.');
    throw error;
  }
}

export function createGroup(db: Database, actor: Actor, input: GroupInput): Promise<GroupResult> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const problem = await clash(tx, input);
      if (problem) return problem;
      const [group] = await tx.insert(groups).values(input).returning();
      await recordAudit(tx, actor, {
        action: 'group_created',
        target: groupTarget(group!),
        changes: {
          name: { old: null, new: input.name },
          priority: { old: null, new: input.priority },
          description: { old: null, new: input.description },
        },
      });
      return { ok: true, value: group! } as const;
    }),
  );
}

export function updateGroup(db: Database, actor: Actor, group: Group, input: GroupInput): Promise<GroupResult> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (group.isSystem && input.name !== group.name)
        return fail(`${group.name} is a system group and cannot be renamed.`, 422, 'name');
      // The priority decides which group's settings win for its members.
      if (input.priority !== group.priority) {
        const refused = await refuseReachingMembers(tx, actor, group, `Changing the priority of ${group.name}`);
        if (refused) return fail(refused.message, 403);
      }
      const problem = await clash(tx, input, group.id);
      if (problem) return problem;
      const [updated] = await tx
        .update(groups)
        .set({ ...input, updatedAt: sql`now()` })
        .where(eq(groups.id, group.id))
        .returning();
      const changes: Record<string, { old: unknown; new: unknown }> = {};
      for (const key of ['name', 'description', 'priority'] as const) {
        if (group[key] !== input[key]) changes[key] = { old: group[key], new: input[key] };
      }
      if (Object.keys(changes).length > 0)
        await recordAudit(tx, actor, { action: 'group_updated', target: groupTarget(updated!), changes });
      return { ok: true, value: updated! } as const;
    }),
  );
}

export function deleteGroup(db: Database, actor: Actor, group: Group): Promise<GroupResult> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (group.isSystem) return fail(`${group.name} is a system group and cannot be deleted.`);
      // Its members lose its settings and file mappings (others' then win).
      const refused = await refuseReachingMembers(tx, actor, group, `Deleting ${group.name}`);
      if (refused) return fail(refused.message, 403);
      await tx.delete(groups).where(eq(groups.id, group.id)); // memberships, settings, permissions cascade
      await assertAdministrable(tx);
      await recordAudit(tx, actor, { action: 'group_deleted', target: groupTarget(group) });
      return { ok: true, value: group } as const;
    }),
  );
}

/** The nearest free priority to `from`, looking at higher numbers first. */
async function freePriority(db: Database, from: number): Promise<number | null> {
  const used = new Set((await db.select({ p: groups.priority }).from(groups)).map((row) => row.p));
  for (let p = from + 1; p <= 1000; p++) if (!used.has(p)) return p;
  for (let p = from - 1; p >= 1; p--) if (!used.has(p)) return p;
  return null;
}

/** Copies a group's settings, permissions and file mappings (not its members) into a new, non-system group. */
export function duplicateGroup(db: Database, actor: Actor, group: Group): Promise<GroupResult> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const permissions = await permissionsOfGroup(tx, group.id);
      // The copy grants what the source grants: making it confers those permissions.
      const refused = await refuseIfLacking(tx, actor, group, `Duplicating ${group.name}`, permissions);
      if (refused) return refused;
      const priority = await freePriority(tx, group.priority);
      if (priority === null) return fail('Every priority from 1 to 1000 is taken; free one before duplicating.');
      const names = new Set((await tx.select({ name: groups.name }).from(groups)).map((row) => row.name.toLowerCase()));
      let name = `Copy of ${group.name}`;
      for (let n = 2; names.has(name.toLowerCase()); n++) name = `Copy of ${group.name} (${n})`;
      const [copy] = await tx.insert(groups).values({ name, description: group.description, priority }).returning();
      const settings = await tx.select().from(groupSettings).where(eq(groupSettings.groupId, group.id));
      if (settings.length > 0)
        await tx.insert(groupSettings).values(settings.map((s) => ({ ...s, groupId: copy!.id })));
      if (permissions.length > 0)
        await tx.insert(groupPermissions).values(permissions.map((permission) => ({ groupId: copy!.id, permission })));
      // File mappings are copied inside the database: their content never passes through here.
      await tx.execute(sql`
        insert into file_mappings (group_id, name, description, destination_path, content, size, sha256, file_name, writable, executable)
        select ${copy!.id}, name, description, destination_path, content, size, sha256, file_name, writable, executable
        from file_mappings where group_id = ${group.id}`);
      await recordAudit(tx, actor, {
        action: 'group_created',
        target: groupTarget(copy!),
        duplicated_from: group.name,
        changes: {
          name: { old: null, new: name },
          priority: { old: null, new: priority },
          permissions: { old: null, new: permissions },
        },
      });
      return { ok: true, value: copy! } as const;
    }),
  );
}

/**
 * Adds a user to a group. No escalation: the actor must hold every permission the group grants,
 * and adding a stronger user (who then receives the group's settings and mappings) needs
 * users_modify_admin.
 */
export function addMember(db: Database, actor: Actor, group: Group, user: MemberRef): Promise<GroupResult<true>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const refused = await refuseIfLacking(
        tx,
        actor,
        group,
        `Adding members to ${group.name}`,
        await permissionsOfGroup(tx, group.id),
      );
      if (refused) return refused;
      const stronger = await refuseReachingUser(tx, actor, user, `Adding ${user.username} to ${group.name}`);
      if (stronger) return fail(stronger.message, 403);
      const added = await tx
        .insert(userGroups)
        .values({ userId: user.id, groupId: group.id })
        .onConflictDoNothing()
        .returning();
      if (added.length === 0) return fail(`${user.username} is already a member of ${group.name}.`);
      await recordAudit(tx, actor, {
        action: 'group_member_added',
        target: groupTarget(group),
        member: { id: user.id, name: user.username },
      });
      return { ok: true, value: true } as const;
    }),
  );
}

/** Removes a user from a group: the same rules as adding (what it took away, other groups' settings may replace). */
export function removeMember(db: Database, actor: Actor, group: Group, user: MemberRef): Promise<GroupResult<true>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (group.systemKey === 'all_users')
        return fail('Every user is a member of All Users; they cannot be removed from it.');
      const refused = await refuseIfLacking(
        tx,
        actor,
        group,
        `Removing members of ${group.name}`,
        await permissionsOfGroup(tx, group.id),
      );
      if (refused) return refused;
      const stronger = await refuseReachingUser(tx, actor, user, `Removing ${user.username} from ${group.name}`);
      if (stronger) return fail(stronger.message, 403);
      const removed = await tx
        .delete(userGroups)
        .where(and(eq(userGroups.userId, user.id), eq(userGroups.groupId, group.id)))
        .returning();
      if (removed.length === 0) return fail(`${user.username} is not a member of ${group.name}.`);
      await assertAdministrable(tx);
      await recordAudit(tx, actor, {
        action: 'group_member_removed',
        target: groupTarget(group),
        member: { id: user.id, name: user.username },
      });
      return { ok: true, value: true } as const;
    }),
  );
}

export function setGroupSetting(
  db: Database,
  actor: Actor,
  group: Group,
  key: string,
  value: SettingValue,
): Promise<GroupResult<true>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const turnsOnAutoAdd = key === 'auto_add_local_users' && value === true;
      if (turnsOnAutoAdd) {
        // Every local user joins at their next login, the actor included: adding them all.
        const refused = await refuseIfLacking(
          tx,
          actor,
          group,
          `Turning on Auto Add Local Users for ${group.name}`,
          await permissionsOfGroup(tx, group.id),
        );
        if (refused) return refused;
      }
      // run_config, volume_mapping and the rest reach every member's sessions (with auto-add on, every local user's).
      const action = turnsOnAutoAdd
        ? `Turning on Auto Add Local Users for ${group.name}`
        : `Changing the settings of ${group.name}`;
      const stronger = await refuseReachingMembers(tx, actor, group, action, { withLocalUsers: turnsOnAutoAdd });
      if (stronger) return fail(stronger.message, 403);
      const [before] = await tx
        .select()
        .from(groupSettings)
        .where(and(eq(groupSettings.groupId, group.id), eq(groupSettings.key, key)));
      await tx
        .insert(groupSettings)
        .values({ groupId: group.id, key, value: sql`${JSON.stringify(value)}::jsonb` })
        .onConflictDoUpdate({
          target: [groupSettings.groupId, groupSettings.key],
          set: { value: sql`${JSON.stringify(value)}::jsonb` },
        });
      await recordAudit(tx, actor, {
        action: 'group_settings_changed',
        target: groupTarget(group),
        changes: { [key]: { old: before ? before.value : null, new: value } },
      });
      return { ok: true, value: true } as const;
    }),
  );
}

export function removeGroupSetting(db: Database, actor: Actor, group: Group, key: string): Promise<GroupResult<true>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const stronger = await refuseReachingMembers(tx, actor, group, `Changing the settings of ${group.name}`);
      if (stronger) return fail(stronger.message, 403);
      const [removed] = await tx
        .delete(groupSettings)
        .where(and(eq(groupSettings.groupId, group.id), eq(groupSettings.key, key)))
        .returning();
      if (!removed) return fail(`${group.name} does not set ${key}.`, 404);
      await recordAudit(tx, actor, {
        action: 'group_settings_changed',
        target: groupTarget(group),
        changes: { [key]: { old: removed.value, new: null } },
      });
      return { ok: true, value: true } as const;
    }),
  );
}

/**
 * Replaces a group's permissions. Only permissions the actor holds can be added or removed,
 * and the change must leave an enabled user holding global_admin.
 */
export function setGroupPermissions(
  db: Database,
  actor: Actor,
  group: Group,
  wanted: string[],
): Promise<GroupResult<true>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const before = await permissionsOfGroup(tx, group.id);
      const { unknown, added, removed } = permissionChange(before, wanted);
      if (unknown.length > 0) return fail(`Unknown permissions: ${unknown.join(', ')}.`, 422);
      if (added.length === 0 && removed.length === 0) return { ok: true, value: true } as const;
      const refused = await refuseIfLacking(tx, actor, group, `Granting or revoking permissions of ${group.name}`, [
        ...added,
        ...removed,
      ]);
      if (refused) return refused;
      await tx.delete(groupPermissions).where(eq(groupPermissions.groupId, group.id));
      if (wanted.length > 0)
        await tx.insert(groupPermissions).values(wanted.map((permission) => ({ groupId: group.id, permission })));
      await assertAdministrable(tx);
      await recordAudit(tx, actor, {
        action: 'privilege_permissions_changed',
        target: groupTarget(group),
        changes: { permissions: { old: before, new: [...wanted].sort() } },
        added,
        removed,
      });
      return { ok: true, value: true } as const;
    }),
  );
}

/** Groups whose `auto_add_local_users` is on: local users join them at creation and login. */
export async function autoAddGroups(db: Database): Promise<Array<{ id: string; name: string }>> {
  return db
    .select({ id: groups.id, name: groups.name })
    .from(groupSettings)
    .innerJoin(groups, eq(groups.id, groupSettings.groupId))
    .where(and(eq(groupSettings.key, 'auto_add_local_users'), sql`${groupSettings.value} = 'true'::jsonb`));
}
