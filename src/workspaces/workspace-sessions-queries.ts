// Recorded launches ("kasms"), each with the launch plan it was started with: reads.
import { desc, eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { users, workspaceSessions } from '../db/schema.js';
import type { LaunchPlan } from './recorded-launch-plan.js';

export interface WorkspaceSessionSummary {
  id: string;
  userId: string;
  workspaceId: string | null;
  workspaceName: string;
  createdAt: Date;
}

export const sessionSummary = {
  id: workspaceSessions.id,
  userId: workspaceSessions.userId,
  workspaceId: workspaceSessions.workspaceId,
  workspaceName: workspaceSessions.workspaceName,
  createdAt: workspaceSessions.createdAt,
};

/** Whether the user has any recorded launch (deleting them then asks for force). */
export async function hasWorkspaceSessions(db: Database, userId: string): Promise<boolean> {
  const rows = await db
    .select({ id: workspaceSessions.id })
    .from(workspaceSessions)
    .where(eq(workspaceSessions.userId, userId))
    .limit(1);
  return rows.length > 0;
}

/** A user's recorded launches, newest first, without their plans. */
export function workspaceSessionsOfUser(db: Database, userId: string): Promise<WorkspaceSessionSummary[]> {
  return db
    .select(sessionSummary)
    .from(workspaceSessions)
    .where(eq(workspaceSessions.userId, userId))
    .orderBy(desc(workspaceSessions.createdAt));
}

export async function findWorkspaceSession(
  db: Database,
  id: string,
): Promise<(WorkspaceSessionSummary & { plan: LaunchPlan; username: string; realm: string }) | undefined> {
  const [row] = await db
    .select({ ...sessionSummary, plan: workspaceSessions.plan, username: users.username, realm: users.realm })
    .from(workspaceSessions)
    .innerJoin(users, eq(users.id, workspaceSessions.userId))
    .where(eq(workspaceSessions.id, id));
  return row ? { ...row, plan: row.plan as LaunchPlan } : undefined;
}
