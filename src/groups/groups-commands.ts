// Every change to a group, its members, settings and permissions (docs/rules.md#groups): each
// command runs one transaction, checks no way up (docs/rules.md#permissions-and-no-way-up) and the
// last-admin guard, audits its success and its own refusals, and returns one Result.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import type { Actor } from '../security/actor.js';
import { lackingMessage, permissionChange, permissionsLacking, type Permission } from '../security/permissions.js';
import { conflict, done, forbidden, invalid, notFound, ok, type Result } from '../security/result.js';
import type { Database } from '../db/client.js';
import { groupPermissions, groups, groupSettings, identityProviders, userGroups, type Group } from '../db/schema.js';
import type { SettingValue } from '../settings/catalogue.js';
import { isUniqueViolation } from '../db/sql-helpers.js';
import { canModifyGroup, modifyGroupNeeds } from './group-access.js';
import type { GroupInput } from './group-validation.js';
import { permissionsOfGroup, type MemberRef } from './groups-queries.js';
import { assertAdministrable, LastAdminError } from './last-admin.js';
import { refuseReachingMembers, refuseReachingUser, type StrongerRefusal } from './stronger-users.js';

export const groupTarget = (group: Pick<Group, 'id' | 'name'>) => ({ type: 'group', id: group.id, name: group.name });

/** A no-way-up refusal (already audited by stronger-users.ts) as a Problem. */
export const strongerProblem = (refused: StrongerRefusal) =>
  forbidden(refused.message, { lacking: refused.lacking[0], reason: 'stronger_user' });

/**
 * No way up: refuses (audited in the same transaction) when `conferred` holds a permission the
 * actor lacks; null when the actor holds all of it.
 */
export async function refuseIfLacking(
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
  return forbidden(message, { lacking: lacking[0] as Permission });
}

/**
 * Refuses (audited) an actor who may not change `group`'s members or mappings (`what`: "the
 * members", "the SSO group mappings"); null when they may.
 */
export async function refuseUnmodifiable(db: Database, actor: Actor, group: Group, what: string) {
  if (canModifyGroup(actor, group)) return null;
  const lacking: Permission = group.isSystem ? 'groups_modify_system' : 'groups_modify';
  const message = `Changing ${what} of ${group.name} needs ${modifyGroupNeeds(group)}.`;
  await recordRefusal(db, actor, groupTarget(group), message, [lacking]);
  return forbidden(message, { lacking });
}

/** A clash of name or priority with another group, as field errors. */
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
  return field ? conflict(message!, { field, fields: errors }) : null;
}

/** The last-admin guard and a concurrent change's unique violation, as Problems. */
async function guarded<T>(work: () => Promise<Result<T>>): Promise<Result<T>> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LastAdminError) return conflict(error.message, { reason: 'last_admin' });
    if (isUniqueViolation(error))
      return conflict('Another change used this name or priority at the same moment; try again.');
    throw error;
  }
}

export function createGroup(db: Database, actor: Actor, input: GroupInput): Promise<Result<Group>> {
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
      return ok(group!);
    }),
  );
}

export function updateGroup(db: Database, actor: Actor, group: Group, input: GroupInput): Promise<Result<Group>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (group.isSystem && input.name !== group.name)
        return invalid(`${group.name} is a system group and cannot be renamed.`, { field: 'name' });
      // The priority decides which group's settings win for its members.
      if (input.priority !== group.priority) {
        const refused = await refuseReachingMembers(tx, actor, group, `Changing the priority of ${group.name}`);
        if (refused) return strongerProblem(refused);
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
      return ok(updated!);
    }),
  );
}

export function deleteGroup(db: Database, actor: Actor, group: Group): Promise<Result<Group>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (group.isSystem) return conflict(`${group.name} is a system group and cannot be deleted.`);
      // Its members lose its settings and file mappings (others' then win).
      const refused = await refuseReachingMembers(tx, actor, group, `Deleting ${group.name}`);
      if (refused) return strongerProblem(refused);
      await tx.delete(groups).where(eq(groups.id, group.id)); // memberships, settings, permissions cascade
      await assertAdministrable(tx);
      await recordAudit(tx, actor, { action: 'group_deleted', target: groupTarget(group) });
      return ok(group);
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
export function duplicateGroup(db: Database, actor: Actor, group: Group): Promise<Result<Group>> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const permissions = await permissionsOfGroup(tx, group.id);
      // The copy grants what the source grants: making it confers those permissions.
      const refused = await refuseIfLacking(tx, actor, group, `Duplicating ${group.name}`, permissions);
      if (refused) return refused;
      const priority = await freePriority(tx, group.priority);
      if (priority === null) return conflict('Every priority from 1 to 1000 is taken; free one before duplicating.');
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
      return ok(copy!);
    }),
  );
}

/**
 * Adds `user` to `group`, or removes them: the one way memberships change, from the group page,
 * the user page, the Developer API and (later) a realm's group sync. The actor must be allowed to
 * change the group's members, must hold every permission the group grants (no way up), and
 * reaching a stronger user (who then receives or loses the group's settings and mappings) needs
 * users_modify_admin; a removal must leave someone able to administer Roster. Success and every
 * refusal are audited here, in the change's transaction.
 */
export function changeMembership(
  db: Database,
  actor: Actor,
  group: Group,
  user: MemberRef,
  change: 'add' | 'remove',
): Promise<Result> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const unmodifiable = await refuseUnmodifiable(tx, actor, group, 'the members');
      if (unmodifiable) return unmodifiable;
      if (change === 'remove' && group.systemKey === 'all_users')
        return conflict('Every user is a member of All Users; they cannot be removed from it.');
      const refused = await refuseIfLacking(
        tx,
        actor,
        group,
        change === 'add' ? `Adding members to ${group.name}` : `Removing members of ${group.name}`,
        await permissionsOfGroup(tx, group.id),
      );
      if (refused) return refused;
      const stronger = await refuseReachingUser(
        tx,
        actor,
        user,
        change === 'add' ? `Adding ${user.username} to ${group.name}` : `Removing ${user.username} from ${group.name}`,
      );
      if (stronger) return strongerProblem(stronger);
      const membership = and(eq(userGroups.userId, user.id), eq(userGroups.groupId, group.id));
      if (change === 'add') {
        const added = await tx
          .insert(userGroups)
          .values({ userId: user.id, groupId: group.id })
          .onConflictDoNothing()
          .returning();
        if (added.length === 0) {
          // A member by an SSO group mapping becomes a manual member: a mapping never undoes an admin's add.
          const converted = await convertToManual(tx, user.id, group.id);
          if (!converted)
            return conflict(`${user.username} is already a member of ${group.name}.`, { reason: 'already_member' });
          await recordAudit(tx, actor, {
            action: 'group_member_added',
            target: groupTarget(group),
            member: { id: user.id, name: user.username },
            changes: { source: { old: converted, new: 'manual' } },
          });
          return done;
        }
      } else {
        const removed = await tx.delete(userGroups).where(membership).returning();
        if (removed.length === 0)
          return conflict(`${user.username} is not a member of ${group.name}.`, { reason: 'not_member' });
        await assertAdministrable(tx);
      }
      await recordAudit(tx, actor, {
        action: change === 'add' ? 'group_member_added' : 'group_member_removed',
        target: groupTarget(group),
        member: { id: user.id, name: user.username },
      });
      return done;
    }),
  );
}

/** Makes a mapping's membership manual; the name of the provider that made it, or null when it was manual already. */
async function convertToManual(db: Database, userId: string, groupId: string): Promise<string | null> {
  const membership = and(eq(userGroups.userId, userId), eq(userGroups.groupId, groupId));
  const [before] = await db
    .select({ providerId: userGroups.sourceProviderId, providerName: identityProviders.name })
    .from(userGroups)
    .leftJoin(identityProviders, eq(identityProviders.id, userGroups.sourceProviderId))
    .where(membership)
    .for('update', { of: userGroups });
  if (!before?.providerId) return null;
  await db.update(userGroups).set({ sourceProviderId: null }).where(membership);
  return before.providerName ?? before.providerId;
}

/**
 * Puts a user into groups as part of a larger command (creating a user, a login joining the
 * auto-add groups), inside that command's transaction; the caller checks and audits.
 */
export async function addMembers(db: Database, userId: string, groupIds: string[]): Promise<void> {
  if (groupIds.length === 0) return;
  await db
    .insert(userGroups)
    .values(groupIds.map((groupId) => ({ userId, groupId })))
    .onConflictDoNothing();
}

export function setGroupSetting(
  db: Database,
  actor: Actor,
  group: Group,
  key: string,
  value: SettingValue,
): Promise<Result> {
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
      if (stronger) return strongerProblem(stronger);
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
      return done;
    }),
  );
}

export function removeGroupSetting(db: Database, actor: Actor, group: Group, key: string): Promise<Result> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const stronger = await refuseReachingMembers(tx, actor, group, `Changing the settings of ${group.name}`);
      if (stronger) return strongerProblem(stronger);
      const [removed] = await tx
        .delete(groupSettings)
        .where(and(eq(groupSettings.groupId, group.id), eq(groupSettings.key, key)))
        .returning();
      if (!removed) return notFound(`${group.name} does not set ${key}.`);
      await recordAudit(tx, actor, {
        action: 'group_settings_changed',
        target: groupTarget(group),
        changes: { [key]: { old: removed.value, new: null } },
      });
      return done;
    }),
  );
}

/**
 * Replaces a group's permissions. Only permissions the actor holds can be added or removed,
 * and the change must leave an enabled user holding global_admin.
 */
export function setGroupPermissions(db: Database, actor: Actor, group: Group, wanted: string[]): Promise<Result> {
  return guarded(() =>
    db.transaction(async (tx) => {
      const before = await permissionsOfGroup(tx, group.id);
      const { unknown, added, removed } = permissionChange(before, wanted);
      if (unknown.length > 0) return invalid(`Unknown permissions: ${unknown.join(', ')}.`);
      if (added.length === 0 && removed.length === 0) return done;
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
      return done;
    }),
  );
}
