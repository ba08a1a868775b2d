// Recorded launches ("kasms"): each keeps the launch plan it was started with.
import { and, desc, eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { users, workspaceSessions } from '../db/schema.js';
import type { LaunchPlan } from '../launches/launch-plan.js';
import type { RefusalCheck } from '../security/permissions.js';

export interface WorkspaceSessionSummary {
  id: string;
  userId: string;
  workspaceId: string | null;
  workspaceName: string;
  createdAt: Date;
}

const summary = {
  id: workspaceSessions.id,
  userId: workspaceSessions.userId,
  workspaceId: workspaceSessions.workspaceId,
  workspaceName: workspaceSessions.workspaceName,
  createdAt: workspaceSessions.createdAt,
};

/** A user's recorded launches, newest first, without their plans. */
export function workspaceSessionsOfUser(db: Database, userId: string): Promise<WorkspaceSessionSummary[]> {
  return db
    .select(summary)
    .from(workspaceSessions)
    .where(eq(workspaceSessions.userId, userId))
    .orderBy(desc(workspaceSessions.createdAt));
}

export async function findWorkspaceSession(
  db: Database,
  id: string,
): Promise<(WorkspaceSessionSummary & { plan: LaunchPlan; username: string; realm: string }) | undefined> {
  const [row] = await db
    .select({ ...summary, plan: workspaceSessions.plan, username: users.username, realm: users.realm })
    .from(workspaceSessions)
    .innerJoin(users, eq(users.id, workspaceSessions.userId))
    .where(eq(workspaceSessions.id, id));
  return row ? { ...row, plan: row.plan as LaunchPlan } : undefined;
}

/** `atLimit`: refused at Max Sessions Per User (ending one would let the launch through). */
export type LaunchResult =
  { ok: true; session: WorkspaceSessionSummary } | { ok: false; message: string; status: number; atLimit?: boolean };

/**
 * Records a launch unless the user already has `limit` sessions. The user's row is locked for
 * the count, so two launches at once cannot both take the last free place. `check` (launching
 * for a stronger user) is asked first.
 */
export function recordLaunch(
  db: Database,
  actor: Actor,
  user: { id: string; username: string },
  plan: LaunchPlan,
  limit: number,
  now: Date,
  check?: RefusalCheck,
): Promise<LaunchResult> {
  return db.transaction(async (tx) => {
    const refused = check ? await check(tx) : null;
    if (refused) return { ok: false, message: refused.message, status: 403 } as const;
    await tx.select({ id: users.id }).from(users).where(eq(users.id, user.id)).for('update');
    const [{ running }] = (await tx
      .select({ running: sql<number>`count(*)::int` })
      .from(workspaceSessions)
      .where(eq(workspaceSessions.userId, user.id))) as [{ running: number }];
    if (running >= limit) {
      const message =
        limit === 0
          ? 'Your groups allow no workspace sessions (Max Sessions Per User is 0).'
          : `You already have ${running} workspace ${running === 1 ? 'session' : 'sessions'}, the most your groups allow (Max Sessions Per User is ${limit}). End one to start another.`;
      await recordAudit(tx, actor, {
        action: 'workspace_launch',
        outcome: 'failure',
        target: { type: 'user', id: user.id, name: user.username },
        reason: message,
        workspace: plan.workspace.friendly_name,
      });
      return { ok: false, message, status: 409, atLimit: true } as const;
    }
    const [session] = await tx
      .insert(workspaceSessions)
      .values({
        userId: user.id,
        workspaceId: plan.workspace.id,
        workspaceName: plan.workspace.friendly_name,
        plan,
        createdAt: now,
      })
      .returning(summary);
    await recordAudit(tx, actor, {
      action: 'workspace_launch',
      target: { type: 'user', id: user.id, name: user.username },
      workspace: plan.workspace.friendly_name,
      session_id: session!.id,
      file_mappings: plan.file_mappings.map((m) => ({ path: m.destination_path, sha256: m.sha256 })),
    });
    return { ok: true, session: session! } as const;
  });
}

/** Ends a recorded session: 'ended', 'gone' (already ended), or the refusal of `check` (another's session, as an admin). */
export function endWorkspaceSession(
  db: Database,
  actor: Actor,
  session: Pick<WorkspaceSessionSummary, 'id' | 'userId' | 'workspaceName'> & { username: string },
  check?: RefusalCheck,
): Promise<'ended' | 'gone' | { refused: string }> {
  return db.transaction(async (tx) => {
    const refused = check ? await check(tx) : null;
    if (refused) return { refused: refused.message };
    const ended = await tx
      .delete(workspaceSessions)
      .where(and(eq(workspaceSessions.id, session.id), eq(workspaceSessions.userId, session.userId)))
      .returning({ id: workspaceSessions.id });
    if (ended.length === 0) return 'gone';
    await recordAudit(tx, actor, {
      action: 'workspace_session_ended',
      target: { type: 'user', id: session.userId, name: session.username },
      workspace: session.workspaceName,
      session_id: session.id,
    });
    return 'ended';
  });
}
