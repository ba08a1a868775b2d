// File mappings (docs/rules.md#file-mappings-and-their-precedence) of workspaces, groups and users, the reads. Lists never
// read the content; the launch plan reads every candidate of a launch, content included, in one query.
import { and, eq, getTableColumns, inArray, or } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { fileMappings, groups, userGroups, users, type FileMapping } from '../db/schema.js';
import type { OwnerRef } from '../security/view-access.js';
import type { MappingCandidate } from './effective-mappings.js';

export type OwnerKind = 'workspace' | 'group' | 'user';

export interface MappingOwner {
  kind: OwnerKind;
  id: string;
  /** For the audit log and pages: the workspace's, group's or user's name. */
  name: string;
}

export type MappingSummary = Omit<FileMapping, 'content'>;
export const OWNER_COLUMN = {
  workspace: fileMappings.workspaceId,
  group: fileMappings.groupId,
  user: fileMappings.userId,
} as const;
export const OWNER_KEY = { workspace: 'workspaceId', group: 'groupId', user: 'userId' } as const;

// Every column but the content: what lists and results carry.
export const { content: _content, ...summaryColumns } = getTableColumns(fileMappings);

export const ownedBy = (owner: Pick<MappingOwner, 'kind' | 'id'>) => eq(OWNER_COLUMN[owner.kind], owner.id);

export function listMappings(db: Database, owner: Pick<MappingOwner, 'kind' | 'id'>): Promise<MappingSummary[]> {
  return db.select(summaryColumns).from(fileMappings).where(ownedBy(owner)).orderBy(fileMappings.destinationPath);
}

/** One mapping of this owner, content included. */
export async function findMapping(
  db: Database,
  owner: Pick<MappingOwner, 'kind' | 'id'>,
  id: string,
): Promise<FileMapping | undefined> {
  const [mapping] = await db
    .select()
    .from(fileMappings)
    .where(and(eq(fileMappings.id, id), ownedBy(owner)));
  return mapping;
}

/** A mapping as a launch considers it: with its content and where it came from. */
export type LaunchMapping = MappingCandidate &
  Pick<FileMapping, 'description' | 'writable' | 'executable' | 'size' | 'sha256' | 'content'> & { ownedBy: OwnerRef };

/**
 * Every mapping that could reach (user, workspace): the workspace's, those of each group the
 * user belongs to, and the user's own: one query, whatever the number of groups.
 */
export async function mappingsForLaunch(
  db: Database,
  userId: string,
  workspace: { id: string; friendlyName: string },
): Promise<LaunchMapping[]> {
  const memberOf = db.select({ id: userGroups.groupId }).from(userGroups).where(eq(userGroups.userId, userId));
  const rows = await db
    .select({
      mapping: fileMappings,
      groupName: groups.name,
      groupPriority: groups.priority,
      groupIsSystem: groups.isSystem,
      username: users.username,
    })
    .from(fileMappings)
    .leftJoin(groups, eq(groups.id, fileMappings.groupId))
    .leftJoin(users, eq(users.id, fileMappings.userId))
    .where(
      or(
        eq(fileMappings.workspaceId, workspace.id),
        eq(fileMappings.userId, userId),
        inArray(fileMappings.groupId, memberOf),
      ),
    );
  return rows.map(({ mapping, groupName, groupPriority, groupIsSystem, username }) => ({
    id: mapping.id,
    name: mapping.name,
    description: mapping.description,
    destinationPath: mapping.destinationPath,
    writable: mapping.writable,
    executable: mapping.executable,
    size: mapping.size,
    sha256: mapping.sha256,
    content: mapping.content,
    origin: mapping.workspaceId
      ? { type: 'workspace', name: workspace.friendlyName }
      : mapping.groupId
        ? { type: 'group', name: groupName ?? '', priority: groupPriority ?? 0 }
        : { type: 'user', name: username ?? '' },
    ownedBy: mapping.workspaceId
      ? { kind: 'workspace', id: mapping.workspaceId }
      : mapping.groupId
        ? { kind: 'group', id: mapping.groupId, isSystem: groupIsSystem === true }
        : { kind: 'user', id: mapping.userId! },
  }));
}
