// File mappings (docs/rules.md#file-mappings-and-their-precedence) of workspaces, groups and users. Lists never read the content; the
// launch plan reads every candidate of a launch, content included, in one query.
import { and, eq, getTableColumns, inArray, or, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { fileMappings, groups, userGroups, users, type FileMapping } from '../db/schema.js';
import { isUniqueViolation } from '../db/sql-helpers.js';
import type { OwnerRef } from '../security/view-access.js';
import type { RefusalCheck } from '../security/permissions.js';
import type { MappingCandidate } from './effective-mappings.js';
import { sha256Hex, type MappingInput } from './mapping-input.js';

export type OwnerKind = 'workspace' | 'group' | 'user';

export interface MappingOwner {
  kind: OwnerKind;
  id: string;
  /** For the audit log and pages: the workspace's, group's or user's name. */
  name: string;
}

export type MappingSummary = Omit<FileMapping, 'content'>;
export type MappingResult =
  { ok: true; value: MappingSummary } | { ok: false; field?: string; message: string; status: number };

const OWNER_COLUMN = {
  workspace: fileMappings.workspaceId,
  group: fileMappings.groupId,
  user: fileMappings.userId,
} as const;
const OWNER_KEY = { workspace: 'workspaceId', group: 'groupId', user: 'userId' } as const;

// Every column but the content: what lists and results carry.
const { content, ...summaryColumns } = getTableColumns(fileMappings);

const ownedBy = (owner: Pick<MappingOwner, 'kind' | 'id'>) => eq(OWNER_COLUMN[owner.kind], owner.id);
const auditTarget = (owner: MappingOwner) => ({ type: owner.kind, id: owner.id, name: owner.name });

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

const DUPLICATE_PATH = (owner: MappingOwner) =>
  ({
    ok: false,
    field: 'destination_path',
    message: `${owner.name} already maps a file to this Destination Path.`,
    status: 409,
  }) as const;

function newContent(content: NonNullable<MappingInput['content']>) {
  return {
    content: content.bytes,
    size: content.bytes.length,
    sha256: sha256Hex(content.bytes),
    fileName: content.fileName,
  };
}

/** What the audit log says of a change: fields, and the content by size and hash (never the content). */
function described(
  mapping: Pick<FileMapping, 'name' | 'destinationPath' | 'writable' | 'executable' | 'size' | 'sha256'>,
) {
  const { name, destinationPath, writable, executable, size, sha256 } = mapping;
  return { name, destination_path: destinationPath, writable, executable, size, sha256 };
}

async function guarded(owner: MappingOwner, work: () => Promise<MappingResult>): Promise<MappingResult> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) return DUPLICATE_PATH(owner);
    throw error;
  }
}

/** A check's refusal as a result (the check audited it). */
async function refused(tx: Database, check: RefusalCheck | undefined) {
  const refusal = check ? await check(tx) : null;
  return refusal && ({ ok: false, message: refusal.message, status: 403 } as const);
}

export function createMapping(
  db: Database,
  actor: Actor,
  owner: MappingOwner,
  input: MappingInput & { content: NonNullable<MappingInput['content']> },
  check?: RefusalCheck,
) {
  return guarded(owner, () =>
    db.transaction(async (tx) => {
      const refusal = await refused(tx, check);
      if (refusal) return refusal;
      const { content, ...fields } = input;
      const [created] = await tx
        .insert(fileMappings)
        .values({ ...fields, ...newContent(input.content), [OWNER_KEY[owner.kind]]: owner.id })
        .returning(summaryColumns);
      await recordAudit(tx, actor, {
        action: 'file_mapping_created',
        target: auditTarget(owner),
        mapping: described(created!),
      });
      return { ok: true, value: created! } as const;
    }),
  );
}

export function updateMapping(
  db: Database,
  actor: Actor,
  owner: MappingOwner,
  before: MappingSummary,
  input: MappingInput,
  check?: RefusalCheck,
) {
  return guarded(owner, () =>
    db.transaction(async (tx) => {
      const refusal = await refused(tx, check);
      if (refusal) return refusal;
      const { content, ...fields } = input;
      const [updated] = await tx
        .update(fileMappings)
        .set({ ...fields, ...(input.content ? newContent(input.content) : {}), updatedAt: sql`now()` })
        .where(and(eq(fileMappings.id, before.id), ownedBy(owner)))
        .returning(summaryColumns);
      if (!updated) return { ok: false, message: 'This file mapping no longer exists.', status: 404 } as const;
      await recordAudit(tx, actor, {
        action: 'file_mapping_updated',
        target: auditTarget(owner),
        mapping: described(updated),
        before: described(before),
      });
      return { ok: true, value: updated } as const;
    }),
  );
}

export function deleteMapping(
  db: Database,
  actor: Actor,
  owner: MappingOwner,
  mapping: MappingSummary,
  check?: RefusalCheck,
): Promise<MappingResult> {
  return db.transaction(async (tx) => {
    const refusal = await refused(tx, check);
    if (refusal) return refusal;
    const deleted = await tx
      .delete(fileMappings)
      .where(and(eq(fileMappings.id, mapping.id), ownedBy(owner)))
      .returning({ id: fileMappings.id });
    if (deleted.length === 0)
      return { ok: false, message: 'This file mapping no longer exists.', status: 404 } as const;
    await recordAudit(tx, actor, {
      action: 'file_mapping_deleted',
      target: auditTarget(owner),
      mapping: described(mapping),
    });
    return { ok: true, value: mapping } as const;
  });
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
