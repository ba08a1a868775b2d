// The workspace catalogue (docs/rules.md#workspaces-and-the-launch-plan) and the settings that point at its entries.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { groupSettings, userSettings, workspaces, type Workspace } from '../db/schema.js';
import { isUniqueViolation } from '../db/sql-helpers.js';
import type { ImageChoice } from '../settings/catalogue.js';
import type { WorkspaceInput } from './workspace-validation.js';

export type WorkspaceResult =
  { ok: true; value: Workspace } | { ok: false; field?: string; message: string; status: number };

const DUPLICATE_NAME = {
  ok: false,
  field: 'friendly_name',
  message: 'A workspace with this Friendly Name already exists.',
  status: 409,
} as const;
const target = (workspace: Pick<Workspace, 'id' | 'friendlyName'>) => ({
  type: 'workspace',
  id: workspace.id,
  name: workspace.friendlyName,
});

export function listWorkspaces(db: Database): Promise<Workspace[]> {
  return db
    .select()
    .from(workspaces)
    .orderBy(sql`lower(${workspaces.friendlyName})`);
}

export async function findWorkspace(db: Database, id: string): Promise<Workspace | undefined> {
  const [workspace] = await db.select().from(workspaces).where(eq(workspaces.id, id));
  return workspace;
}

/** What settings need to know of the catalogue: names (to show), enabled ids (to resolve), choices (to pick). */
export interface WorkspaceCatalogue {
  names: Map<string, { name: string; enabled: boolean }>;
  usable: Set<string>;
  choices: ImageChoice[];
}

export async function workspaceCatalogue(db: Database): Promise<WorkspaceCatalogue> {
  const rows = await db
    .select({ id: workspaces.id, name: workspaces.friendlyName, enabled: workspaces.enabled })
    .from(workspaces)
    .orderBy(sql`lower(${workspaces.friendlyName})`);
  return {
    names: new Map(rows.map((row) => [row.id, { name: row.name, enabled: row.enabled }])),
    usable: new Set(rows.filter((row) => row.enabled).map((row) => row.id)),
    choices: rows.filter((row) => row.enabled).map((row) => [row.id, row.name] as const),
  };
}

/** How many users and groups have this workspace as their Default Workspace Image. */
export async function defaultImageReferences(db: Database, id: string): Promise<{ users: number; groups: number }> {
  const value = sql`to_jsonb(${id}::text)`;
  const [row] = await db
    .select({
      users: sql<number>`(select count(*)::int from ${userSettings} where ${userSettings.key} = 'default_image' and ${userSettings.value} = ${value})`,
      groups: sql<number>`(select count(*)::int from ${groupSettings} where ${groupSettings.key} = 'default_image' and ${groupSettings.value} = ${value})`,
    })
    .from(sql`(select 1) as one`);
  return { users: row!.users, groups: row!.groups };
}

async function guarded(work: () => Promise<WorkspaceResult>): Promise<WorkspaceResult> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) return DUPLICATE_NAME;
    throw error;
  }
}

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

export function createWorkspace(db: Database, actor: Actor, input: WorkspaceInput): Promise<WorkspaceResult> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (await nameTaken(tx, input.friendlyName)) return DUPLICATE_NAME;
      const [created] = await tx.insert(workspaces).values(input).returning();
      const changes = Object.fromEntries(FIELDS.map((field) => [field, { old: null, new: input[field] }]));
      await recordAudit(tx, actor, { action: 'workspace_created', target: target(created!), changes });
      return { ok: true, value: created! } as const;
    }),
  );
}

export function updateWorkspace(
  db: Database,
  actor: Actor,
  workspace: Workspace,
  input: WorkspaceInput,
): Promise<WorkspaceResult> {
  return guarded(() =>
    db.transaction(async (tx) => {
      if (await nameTaken(tx, input.friendlyName, workspace.id)) return DUPLICATE_NAME;
      const [updated] = await tx
        .update(workspaces)
        .set({ ...input, updatedAt: sql`now()` })
        .where(eq(workspaces.id, workspace.id))
        .returning();
      if (!updated) return { ok: false, message: 'This workspace no longer exists.', status: 404 } as const;
      const changes: Record<string, { old: unknown; new: unknown }> = {};
      for (const field of FIELDS) {
        if (JSON.stringify(workspace[field]) !== JSON.stringify(input[field]))
          changes[field] = { old: workspace[field], new: input[field] };
      }
      if (Object.keys(changes).length > 0)
        await recordAudit(tx, actor, { action: 'workspace_updated', target: target(updated), changes });
      return { ok: true, value: updated } as const;
    }),
  );
}

/**
 * Deletes a workspace with its file mappings (cascade) and the Default Workspace Image
 * settings that named it, so those users and groups fall back to the next source.
 */
export function deleteWorkspace(db: Database, actor: Actor, workspace: Workspace): Promise<WorkspaceResult> {
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
    if (!deleted) return { ok: false, message: 'This workspace no longer exists.', status: 404 } as const;
    await recordAudit(tx, actor, {
      action: 'workspace_deleted',
      target: target(workspace),
      default_image_cleared: { users: clearedUsers.length, groups: clearedGroups.length },
    });
    return { ok: true, value: deleted } as const;
  });
}
