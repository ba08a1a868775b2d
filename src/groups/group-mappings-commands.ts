// SSO group mappings (docs/rules.md#sso-group-mappings): adding and deleting a group's mappings
// (one transaction each, no way up, audited), and recomputing a user's mapped memberships at a
// login or sync (inside the caller's transaction). The decisions are the pure rules of group-mappings.ts.
import { and, eq, inArray } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import { providerActor, type Actor } from '../security/actor.js';
import { strongerMessage, strongerUserBlocks, PERMISSIONS, type Permission } from '../security/permissions.js';
import { conflict, forbidden, invalid, notFound, ok, type Result } from '../security/result.js';
import type { Database } from '../db/client.js';
import { groupMappings, groupPermissions, groups, userGroups, type Group } from '../db/schema.js';
import { isUniqueViolation } from '../db/sql-helpers.js';
import { matchKeyOf, mappedGroupIds, membershipChanges } from './group-mappings.js';
import {
  effectivePermissionsOfProviderUsers,
  findGroupMapping,
  findProvider,
  mappingsOfProvider,
  type GroupMappingRow,
} from './group-mappings-queries.js';
import { groupTarget, refuseIfLacking, refuseUnmodifiable } from './groups-commands.js';
import { countActiveGlobalAdmins, permissionsOfGroup } from './groups-queries.js';

/** At most this many DNs in one add (one per line), and this long each. */
export const GROUP_DNS_MAX = 100;
export const GROUP_DN_MAX_LENGTH = 1024;

export interface GroupMappingInput {
  providerId: string;
  allUsers: boolean;
  /** The DNs as typed (blank ones are ignored); unused with allUsers. */
  groupDns: readonly string[];
}

const EVERYTHING: ReadonlySet<string> = new Set(PERMISSIONS);
const WHAT = 'the SSO group mappings';

/** A mapping's row as the audit log shows it. */
const mappingDetails = (
  mapping: { id: string; allUsers: boolean; groupDn: string },
  provider: { id: string; name: string },
) => ({
  group_mapping: { id: mapping.id, all_users: mapping.allUsers, group_dn: mapping.groupDn },
  provider: { id: provider.id, name: provider.name },
});

/** The DNs to map, trimmed, blank lines dropped and repeats (as normalized) merged; or the field's error. */
function dnsOf(input: GroupMappingInput): { dns: string[] } | { error: string } {
  if (input.allUsers) return { dns: [''] };
  const typed = input.groupDns.map((dn) => dn.trim()).filter((dn) => dn !== '');
  if (typed.length === 0) return { error: 'A group DN is required, unless all users of the provider are mapped.' };
  if (typed.length > GROUP_DNS_MAX) return { error: `At most ${GROUP_DNS_MAX} group DNs at once.` };
  for (const dn of typed) {
    if (dn.length > GROUP_DN_MAX_LENGTH) return { error: `A group DN is at most ${GROUP_DN_MAX_LENGTH} characters.` };
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/u.test(dn)) return { error: 'A group DN may not contain control characters.' };
    if (!dn.includes('=')) return { error: `${dn} is not a DN: it looks like cn=Admins,ou=Groups,dc=example,dc=com.` };
  }
  const byKey = new Map<string, string>();
  for (const dn of typed) {
    const key = matchKeyOf({ allUsers: false, groupDn: dn });
    if (!byKey.has(key)) byKey.set(key, dn);
  }
  return { dns: [...byKey.values()] };
}

/**
 * Maps users of a provider (all of them, or those in each of `groupDns`) into `group`: one
 * mapping per DN. The actor must be allowed to change the group, must hold every permission it
 * grants (a mapping adds members: no way up), and, when users already linked to the provider hold
 * permissions the actor lacks, users_modify_admin (the mapping reaches them).
 */
export async function addGroupMapping(
  db: Database,
  actor: Actor,
  group: Group,
  input: GroupMappingInput,
): Promise<Result<GroupMappingRow[]>> {
  try {
    return await db.transaction(async (tx) => {
      const unmodifiable = await refuseUnmodifiable(tx, actor, group, WHAT);
      if (unmodifiable) return unmodifiable;
      if (group.systemKey === 'all_users')
        return invalid('Every user is a member of All Users: it needs no mappings.', { field: 'provider_id' });
      const provider = await findProvider(tx, input.providerId);
      if (!provider) return invalid('Choose an identity provider.', { field: 'provider_id' });
      const parsed = dnsOf(input);
      if ('error' in parsed) return invalid(parsed.error, { field: 'group_dns' });
      const action = `Mapping users of ${provider.name} into ${group.name}`;
      const refused = await refuseIfLacking(tx, actor, group, action, await permissionsOfGroup(tx, group.id));
      if (refused) return refused;
      const stronger = await refuseReachingProviderUsers(tx, actor, group, provider, action);
      if (stronger) return stronger;

      const rows = parsed.dns.map((groupDn) => ({
        groupId: group.id,
        providerId: provider.id,
        allUsers: input.allUsers,
        groupDn,
        matchKey: matchKeyOf({ allUsers: input.allUsers, groupDn }),
      }));
      const taken = await tx
        .select({ matchKey: groupMappings.matchKey, groupDn: groupMappings.groupDn })
        .from(groupMappings)
        .where(
          and(
            eq(groupMappings.groupId, group.id),
            eq(groupMappings.providerId, provider.id),
            inArray(
              groupMappings.matchKey,
              rows.map((row) => row.matchKey),
            ),
          ),
        );
      if (taken.length > 0) {
        const field = input.allUsers ? 'all_users' : 'group_dns';
        const message = input.allUsers
          ? `All users of ${provider.name} are already mapped into ${group.name}.`
          : `Already mapped into ${group.name} for ${provider.name}: ${taken.map((row) => row.groupDn).join('; ')}.`;
        return conflict(message, { field });
      }
      const inserted = await tx.insert(groupMappings).values(rows).returning();
      for (const mapping of inserted)
        await recordAudit(tx, actor, {
          action: 'group_mapping_created',
          target: groupTarget(group),
          ...mappingDetails(mapping, provider),
        });
      return ok(
        inserted.map((mapping) => ({
          ...mapping,
          providerName: provider.name,
          providerKind: provider.kind as GroupMappingRow['providerKind'],
        })),
      );
    });
  } catch (error) {
    if (isUniqueViolation(error))
      return conflict('Another change mapped the same group at the same moment; reload and try again.', {
        field: input.allUsers ? 'all_users' : 'group_dns',
      });
    throw error;
  }
}

/**
 * Deletes one of `group`'s mappings. Its memberships stay until the user's next login or sync
 * recomputes them (then the ones it made and no other mapping wants are removed).
 */
export function deleteGroupMapping(
  db: Database,
  actor: Actor,
  group: Group,
  mappingId: string,
): Promise<Result<GroupMappingRow>> {
  return db.transaction(async (tx) => {
    const unmodifiable = await refuseUnmodifiable(tx, actor, group, WHAT);
    if (unmodifiable) return unmodifiable;
    const mapping = await findGroupMapping(tx, group.id, mappingId);
    if (!mapping) return notFound('This mapping does not exist (any more).');
    await tx.delete(groupMappings).where(eq(groupMappings.id, mapping.id));
    await recordAudit(tx, actor, {
      action: 'group_mapping_deleted',
      target: groupTarget(group),
      ...mappingDetails(mapping, { id: mapping.providerId, name: mapping.providerName }),
    });
    return ok(mapping);
  });
}

/** Users already linked to the provider that hold what the actor lacks: the mapping reaches them (users_modify_admin). */
async function refuseReachingProviderUsers(
  db: Database,
  actor: Actor,
  group: Group,
  provider: { id: string; name: string },
  action: string,
) {
  if (strongerUserBlocks(actor.permissions, EVERYTHING).length === 0) return null;
  const blocks = strongerUserBlocks(actor.permissions, await effectivePermissionsOfProviderUsers(db, provider.id));
  if (blocks.length === 0) return null;
  const message = strongerMessage(action, `users of ${provider.name}`, blocks);
  const lacking: Permission[] = ['users_modify_admin', ...blocks];
  await recordRefusal(db, actor, groupTarget(group), message, lacking);
  return forbidden(message, { lacking: 'users_modify_admin', reason: 'stronger_user' });
}

/**
 * Recomputes `user`'s memberships made by `provider`'s mappings, from the DNs of their directory
 * groups, inside the caller's transaction (a login or a sync): adds the groups a mapping wants
 * and they are not in (as the provider's: `sourceProviderId`), removes the provider's memberships
 * no mapping wants any more. A manual membership, or another provider's, is never touched; one
 * that exists already is left as it is. Each change is audited as done by the provider, with the
 * reason `sso_group_mapping`. `groupDns` null (the directory answered no groups at all: an error,
 * a missing attribute) keeps every membership and records a warning. A removal that would leave
 * Roster without an administrator is kept (and recorded) rather than failing the login.
 */
export async function applyGroupMappings(
  tx: Database,
  provider: { id: string; kind: string; name: string },
  user: { id: string; username: string },
  groupDns: string[] | null,
): Promise<{ added: string[]; removed: string[] }> {
  const actor = providerActor(provider);
  const target = { type: 'user', id: user.id, name: user.username };
  if (groupDns === null) {
    await recordAudit(tx, actor, {
      action: 'group_mappings_skipped',
      outcome: 'failure',
      target,
      reason: `${provider.name} returned no groups for ${user.username}; their group memberships were kept as they were.`,
    });
    return { added: [], removed: [] };
  }
  const [mappings, current] = await Promise.all([
    mappingsOfProvider(tx, provider.id),
    tx
      .select({ groupId: userGroups.groupId, sourceProviderId: userGroups.sourceProviderId })
      .from(userGroups)
      .where(eq(userGroups.userId, user.id)),
  ]);
  const { add, remove } = membershipChanges(current, mappedGroupIds(mappings, groupDns), provider.id);
  if (add.length === 0 && remove.length === 0) return { added: [], removed: [] };
  const names = new Map(
    (
      await tx
        .select({ id: groups.id, name: groups.name })
        .from(groups)
        .where(inArray(groups.id, [...add, ...remove]))
    ).map((group) => [group.id, group.name]),
  );
  const groupOf = (id: string) => ({ type: 'group', id, name: names.get(id) ?? id });
  const member = { id: user.id, name: user.username };

  const added: string[] = [];
  if (add.length > 0) {
    // A membership made meanwhile (by hand, or by another provider) stays as it is.
    const rows = await tx
      .insert(userGroups)
      .values(add.map((groupId) => ({ userId: user.id, groupId, sourceProviderId: provider.id })))
      .onConflictDoNothing()
      .returning({ groupId: userGroups.groupId });
    for (const { groupId } of rows.sort((a, b) => a.groupId.localeCompare(b.groupId))) {
      added.push(groupId);
      await recordAudit(tx, actor, {
        action: 'group_member_added',
        target: groupOf(groupId),
        member,
        reason: 'sso_group_mapping',
      });
    }
  }

  const removed: string[] = [];
  if (remove.length > 0) {
    const adminGroups = new Set(
      (
        await tx
          .select({ groupId: groupPermissions.groupId })
          .from(groupPermissions)
          .where(and(inArray(groupPermissions.groupId, remove), eq(groupPermissions.permission, 'global_admin')))
      ).map((row) => row.groupId),
    );
    for (const groupId of remove) {
      const [gone] = await tx
        .delete(userGroups)
        .where(
          and(
            eq(userGroups.userId, user.id),
            eq(userGroups.groupId, groupId),
            eq(userGroups.sourceProviderId, provider.id),
          ),
        )
        .returning();
      if (!gone) continue;
      // The last-admin guard (groups/last-admin.ts), without failing the caller's transaction: put it back.
      if (adminGroups.has(groupId) && (await countActiveGlobalAdmins(tx)) === 0) {
        await tx.insert(userGroups).values(gone);
        await recordAudit(tx, actor, {
          action: 'group_mappings_skipped',
          outcome: 'failure',
          target: groupOf(groupId),
          member,
          reason: `${user.username} stays in ${names.get(groupId) ?? groupId}: removing them would leave no one to administer Roster.`,
        });
        continue;
      }
      removed.push(groupId);
      await recordAudit(tx, actor, {
        action: 'group_member_removed',
        target: groupOf(groupId),
        member,
        reason: 'sso_group_mapping',
      });
    }
  }
  return { added, removed };
}
