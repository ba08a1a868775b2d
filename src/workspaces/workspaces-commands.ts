// Changing the workspace catalogue (docs/rules.md#workspaces-and-the-launch-plan): create, update, delete.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { groupSettings, userSettings, workspaces, type Workspace } from '../db/schema.js';
import { conflict, notFound, ok, type Result, uniqueOr } from '../security/result.js';
import type { WorkspaceInput } from './workspace-validation.js';

const DUPLICATE_NAME = conflict('A workspace with this Friendly Name already exists.', { field: 'friendly_name' });
const GONE = notFound('This workspace no longer exists.');
const target = (workspace: Pick<Workspace, 'id' | 'friendlyName'>) => ({
  type: 'workspace',
  id: workspace.id,
  name: workspace.friendlyName,
});

async function nameTaken(db: Database, name: string, exceptId?: string): Promise<boolean> {
  const rows = await db
    .select({ id: workspaces.id })
    .from(workspaces)
    .where(
      and(
        sql`lower(${workspaces.friendlyName}) = lower(${name})`,
        exceptId ? sql`${workspaces.id} <> ${exceptId}` : undefined,
      ),
    );
  return rows.length > 0;
}

const FIELDS = ['friendlyName', 'image', 'description', 'cores', 'memoryMb', 'enabled', 'runConfigOverride'] as const;

export function createWorkspace(db: Database, actor: Actor, input: WorkspaceInput): Promise<Result<Workspace>> {
  return uniqueOr(DUPLICATE_NAME, () =>
    db.transaction(async (tx) => {
      if (await nameTaken(tx, input.friendlyName)) return DUPLICATE_NAME;
      const [created] = await tx.insert(workspaces).values(input).returning();
      const changes = Object.fromEntries(FIELDS.map((field) => [field, { old: null, new: input[field] }]));
      await recordAudit(tx, actor, { action: 'workspace_created', target: target(created!), changes });
      return ok(created!);
    }),
  );
}

export function updateWorkspace(
  db: Database,
  actor: Actor,
  workspace: Workspace,
  input: WorkspaceInput,
): Promise<Result<Workspace>> {
  return uniqueOr(DUPLICATE_NAME, () =>
    db.transaction(async (tx) => {
      if (await nameTaken(tx, input.friendlyName, workspace.id)) return DUPLICATE_NAME;
      const [updated] = await tx
        .update(workspaces)
        .set({ ...input, updatedAt: sql`now()` })
        .where(eq(workspaces.id, workspace.id))
        .returning();
      if (!updated) return GONE;
      const changes: Record<string, { old: unknown; new: unknown }> = {};
      for (const field of FIELDS) {
        if (JSON.stringify(workspace[field]) !== JSON.stringify(input[field]))
          changes[field] = { old: workspace[field], new: input[field] };
      }
      if (Object.keys(changes).length > 0)
        await recordAudit(tx, actor, { action: 'workspace_updated', target: target(updated), changes });
      return ok(updated);
    }),
  );
}

/**
 * Deletes a workspace with its file mappings (cascade) and the Default Workspace Image
 * settings that named it, so those users and groups fall back to the next source.
 */
export function deleteWorkspace(db: Database, actor: Actor, workspace: Workspace): Promise<Result<Workspace>> {
  return db.transaction(async (tx) => {
    const value = sql`to_jsonb(${workspace.id}::text)`;
    const clearedUsers = await tx
      .delete(userSettings)
      .where(and(eq(userSettings.key, 'default_image'), sql`${userSettings.value} = ${value}`))
      .returning({ id: userSettings.userId });
    const clearedGroups = await tx
      .delete(groupSettings)
      .where(and(eq(groupSettings.key, 'default_image'), sql`${groupSettings.value} = ${value}`))
      .returning({ id: groupSettings.groupId });
    const [deleted] = await tx.delete(workspaces).where(eq(workspaces.id, workspace.id)).returning();
    if (!deleted) return GONE;
    await recordAudit(tx, actor, {
      action: 'workspace_deleted',
      target: target(workspace),
      default_image_cleared: { users: clearedUsers.length, groups: clearedGroups.length },
    });
    return ok(deleted);
  });
}
