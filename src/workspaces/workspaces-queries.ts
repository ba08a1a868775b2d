// The workspace catalogue (docs/rules.md#workspaces-and-the-launch-plan) and the settings that point at its entries: reads.
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { groupSettings, userSettings, workspaces, type Workspace } from '../db/schema.js';
import type { ImageChoice } from '../settings/catalogue.js';

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
