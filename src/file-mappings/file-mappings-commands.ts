// Adding, changing and deleting the file mappings (docs/rules.md#file-mappings-and-their-precedence) of workspaces, groups and users.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { fileMappings, type FileMapping } from '../db/schema.js';
import type { RefusalCheck } from '../security/permissions.js';
import { conflict, forbidden, notFound, ok, type Result, uniqueOr } from '../security/result.js';
import { OWNER_KEY, ownedBy, summaryColumns, type MappingOwner, type MappingSummary } from './file-mappings-queries.js';
import { sha256Hex, type MappingInput } from './mapping-input.js';

const auditTarget = (owner: MappingOwner) => ({ type: owner.kind, id: owner.id, name: owner.name });

const DUPLICATE_PATH = (owner: MappingOwner) =>
  conflict(`${owner.name} already maps a file to this Destination Path.`, { field: 'destination_path' });
const GONE = notFound('This file mapping no longer exists.');

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

/** A check's refusal as a result (the check audited it). */
async function refused(tx: Database, check: RefusalCheck | undefined) {
  const refusal = check ? await check(tx) : null;
  return refusal && forbidden(refusal.message);
}

export function createMapping(
  db: Database,
  actor: Actor,
  owner: MappingOwner,
  input: MappingInput & { content: NonNullable<MappingInput['content']> },
  check?: RefusalCheck,
): Promise<Result<MappingSummary>> {
  return uniqueOr(DUPLICATE_PATH(owner), () =>
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
      return ok(created!);
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
): Promise<Result<MappingSummary>> {
  return uniqueOr(DUPLICATE_PATH(owner), () =>
    db.transaction(async (tx) => {
      const refusal = await refused(tx, check);
      if (refusal) return refusal;
      const { content, ...fields } = input;
      const [updated] = await tx
        .update(fileMappings)
        .set({ ...fields, ...(input.content ? newContent(input.content) : {}), updatedAt: sql`now()` })
        .where(and(eq(fileMappings.id, before.id), ownedBy(owner)))
        .returning(summaryColumns);
      if (!updated) return GONE;
      await recordAudit(tx, actor, {
        action: 'file_mapping_updated',
        target: auditTarget(owner),
        mapping: described(updated),
        before: described(before),
      });
      return ok(updated);
    }),
  );
}

export function deleteMapping(
  db: Database,
  actor: Actor,
  owner: MappingOwner,
  mapping: MappingSummary,
  check?: RefusalCheck,
): Promise<Result<MappingSummary>> {
  return db.transaction(async (tx) => {
    const refusal = await refused(tx, check);
    if (refusal) return refusal;
    const deleted = await tx
      .delete(fileMappings)
      .where(and(eq(fileMappings.id, mapping.id), ownedBy(owner)))
      .returning({ id: fileMappings.id });
    if (deleted.length === 0) return GONE;
    await recordAudit(tx, actor, {
      action: 'file_mapping_deleted',
      target: auditTarget(owner),
      mapping: described(mapping),
    });
    return ok(mapping);
  });
}
