// Reads of SSO group mappings and of the identity providers they name (docs/rules.md#sso-group-mappings).
// The providers are read from their table directly: groups/ sits below directories/ and never imports it.
import { and, asc, eq, exists, inArray, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { groupMappings, groupPermissions, identityProviders, userGroups, userIdentities, users } from '../db/schema.js';
import { isUuid } from '../db/sql-helpers.js';
import { autoAddPermissions } from './groups-queries.js';

export interface GroupMappingRow {
  id: string;
  groupId: string;
  providerId: string;
  providerName: string;
  providerKind: 'ldap' | 'oidc' | 'saml';
  allUsers: boolean;
  groupDn: string;
  matchKey: string;
}

const mappingColumns = {
  id: groupMappings.id,
  groupId: groupMappings.groupId,
  providerId: groupMappings.providerId,
  providerName: identityProviders.name,
  providerKind: identityProviders.kind,
  allUsers: groupMappings.allUsers,
  groupDn: groupMappings.groupDn,
  matchKey: groupMappings.matchKey,
};

/** A group's mappings with their provider's name and kind: by provider (in their order), all-users first, then by DN. */
export function listGroupMappings(db: Database, groupId: string): Promise<GroupMappingRow[]> {
  return db
    .select(mappingColumns)
    .from(groupMappings)
    .innerJoin(identityProviders, eq(identityProviders.id, groupMappings.providerId))
    .where(eq(groupMappings.groupId, groupId))
    .orderBy(
      asc(identityProviders.sortOrder),
      sql`lower(${identityProviders.name})`,
      identityProviders.id,
      sql`${groupMappings.allUsers} desc`,
      asc(groupMappings.matchKey),
      asc(groupMappings.id),
    );
}

/**
 * A group's mappings (as listGroupMappings orders them) and every provider (as providerChoices
 * orders them), in one statement: the group page's SSO Group Mappings section.
 */
export async function mappingsAndProviders(
  db: Database,
  groupId: string,
): Promise<{ mappings: GroupMappingRow[]; providers: Array<{ id: string; name: string; kind: string }> }> {
  const rows = await db
    .select({
      provider: { id: identityProviders.id, name: identityProviders.name, kind: identityProviders.kind },
      mapping: {
        id: groupMappings.id,
        groupId: groupMappings.groupId,
        allUsers: groupMappings.allUsers,
        groupDn: groupMappings.groupDn,
        matchKey: groupMappings.matchKey,
      },
    })
    .from(identityProviders)
    .leftJoin(
      groupMappings,
      and(eq(groupMappings.providerId, identityProviders.id), eq(groupMappings.groupId, groupId)),
    )
    .orderBy(
      asc(identityProviders.sortOrder),
      sql`lower(${identityProviders.name})`,
      identityProviders.id,
      sql`${groupMappings.allUsers} desc`,
      asc(groupMappings.matchKey),
      asc(groupMappings.id),
    );
  const providers = new Map<string, { id: string; name: string; kind: string }>();
  const mappings: GroupMappingRow[] = [];
  for (const { provider, mapping } of rows) {
    providers.set(provider.id, provider);
    if (mapping)
      mappings.push({
        ...mapping,
        providerId: provider.id,
        providerName: provider.name,
        providerKind: provider.kind,
      });
  }
  return { mappings, providers: [...providers.values()] };
}

/** One mapping of a group, or undefined (also for an id that is no UUID, or another group's mapping). */
export async function findGroupMapping(
  db: Database,
  groupId: string,
  mappingId: string,
): Promise<GroupMappingRow | undefined> {
  if (!isUuid(mappingId)) return undefined;
  const [row] = await db
    .select(mappingColumns)
    .from(groupMappings)
    .innerJoin(identityProviders, eq(identityProviders.id, groupMappings.providerId))
    .where(and(eq(groupMappings.id, mappingId), eq(groupMappings.groupId, groupId)));
  return row;
}

/** A mapping by its id alone (the API names no group with it), or undefined. */
export async function findGroupMappingById(db: Database, mappingId: string): Promise<GroupMappingRow | undefined> {
  if (!isUuid(mappingId)) return undefined;
  const [row] = await db
    .select(mappingColumns)
    .from(groupMappings)
    .innerJoin(identityProviders, eq(identityProviders.id, groupMappings.providerId))
    .where(eq(groupMappings.id, mappingId));
  return row;
}

/** Every mapping of a provider, as mappedGroupIds takes them. */
export function mappingsOfProvider(
  db: Database,
  providerId: string,
): Promise<Array<{ groupId: string; allUsers: boolean; matchKey: string }>> {
  return db
    .select({ groupId: groupMappings.groupId, allUsers: groupMappings.allUsers, matchKey: groupMappings.matchKey })
    .from(groupMappings)
    .where(eq(groupMappings.providerId, providerId));
}

/** Every identity provider (id, name, kind), by their order: the choices of the Add Mapping form. */
export function providerChoices(db: Database): Promise<Array<{ id: string; name: string; kind: string }>> {
  return db
    .select({ id: identityProviders.id, name: identityProviders.name, kind: identityProviders.kind })
    .from(identityProviders)
    .orderBy(asc(identityProviders.sortOrder), sql`lower(${identityProviders.name})`);
}

export async function findProvider(
  db: Database,
  id: string,
): Promise<{ id: string; name: string; kind: string } | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db
    .select({ id: identityProviders.id, name: identityProviders.name, kind: identityProviders.kind })
    .from(identityProviders)
    .where(eq(identityProviders.id, id));
  return row;
}

/**
 * What the users already linked to a provider hold together (their groups' permissions, and the
 * auto-add groups' when one of them is local): a mapping of that provider's users reaches them all.
 */
export async function effectivePermissionsOfProviderUsers(db: Database, providerId: string): Promise<Set<string>> {
  const linkedGroups = db
    .select({ groupId: userGroups.groupId })
    .from(userIdentities)
    .innerJoin(userGroups, eq(userGroups.userId, userIdentities.userId))
    .where(eq(userIdentities.providerId, providerId));
  const rows = await db
    .selectDistinct({ permission: groupPermissions.permission })
    .from(groupPermissions)
    .where(inArray(groupPermissions.groupId, linkedGroups));
  const held = new Set(rows.map((row) => row.permission));
  const [local] = await db
    .select({ one: sql`1` })
    .from(users)
    .where(
      and(
        eq(users.realm, 'local'),
        exists(
          db
            .select({ one: sql`1` })
            .from(userIdentities)
            .where(and(eq(userIdentities.userId, users.id), eq(userIdentities.providerId, providerId))),
        ),
      ),
    )
    .limit(1);
  if (local) for (const permission of await autoAddPermissions(db)) held.add(permission);
  return held;
}
