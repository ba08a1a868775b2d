// Recording a launch ("kasm") with its plan, and ending one (docs/rules.md#workspaces-and-the-launch-plan).
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { users, workspaceSessions } from '../db/schema.js';
import type { RefusalCheck } from '../security/permissions.js';
import { conflict, done, forbidden, notFound, ok, type Result } from '../security/result.js';
import type { LaunchPlan } from './recorded-launch-plan.js';
import { sessionSummary, type WorkspaceSessionSummary } from './workspace-sessions-queries.js';

/** The `reason` of a launch refused at Max Sessions Per User (ending one would let it through). */
export const AT_LIMIT = 'at_limit';

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
): Promise<Result<WorkspaceSessionSummary>> {
  return db.transaction(async (tx) => {
    const refused = check ? await check(tx) : null;
    if (refused) return forbidden(refused.message);
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
      return conflict(message, { reason: AT_LIMIT });
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
      .returning(sessionSummary);
    await recordAudit(tx, actor, {
      action: 'workspace_launch',
      target: { type: 'user', id: user.id, name: user.username },
      workspace: plan.workspace.friendly_name,
      session_id: session!.id,
      file_mappings: plan.file_mappings.map((m) => ({ path: m.destination_path, sha256: m.sha256 })),
    });
    return ok(session!);
  });
}

/** Ends a recorded session; not_found when it had already ended, forbidden when `check` refuses (another's session, as an admin). */
export function endWorkspaceSession(
  db: Database,
  actor: Actor,
  session: Pick<WorkspaceSessionSummary, 'id' | 'userId' | 'workspaceName'> & { username: string },
  check?: RefusalCheck,
): Promise<Result> {
  return db.transaction(async (tx) => {
    const refused = check ? await check(tx) : null;
    if (refused) return forbidden(refused.message);
    const ended = await tx
      .delete(workspaceSessions)
      .where(and(eq(workspaceSessions.id, session.id), eq(workspaceSessions.userId, session.userId)))
      .returning({ id: workspaceSessions.id });
    if (ended.length === 0) return notFound('That session had already ended.');
    await recordAudit(tx, actor, {
      action: 'workspace_session_ended',
      target: { type: 'user', id: session.userId, name: session.username },
      workspace: session.workspaceName,
      session_id: session.id,
    });
    return done;
  });
}
