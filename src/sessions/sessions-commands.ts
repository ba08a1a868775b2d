// Ending sessions (logout everywhere, one's own sessions); who is logged in where: sessions-queries.ts.
// (The @fastify/session store that reads and writes the rows is HTTP wiring, in plugins/.)
import { and, eq, ne } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { sessions, type User } from '../db/schema.js';
import type { RefusalCheck } from '../security/permissions.js';

const userTarget = (user: Pick<User, 'id' | 'username'>) => ({ type: 'user', id: user.id, name: user.username });
const selfTarget = (actor: Actor) => ({ type: 'user', id: actor.id, name: actor.name });

/** Ends every session of a user at once (logout everywhere, disable, lock, delete). */
export async function endUserSessions(db: Database, userId: string): Promise<number> {
  const ended = await db.delete(sessions).where(eq(sessions.userId, userId)).returning({ sid: sessions.sid });
  return ended.length;
}

export async function endUserSessionsExcept(db: Database, userId: string, keepSessionId: string): Promise<void> {
  await db.delete(sessions).where(and(eq(sessions.userId, userId), ne(sessions.sid, keepSessionId)));
}

/**
 * An admin logs `user` out everywhere; answers how many sessions ended. `check` (a stronger
 * user needs users_modify_admin) is asked first, in the same transaction.
 */
export async function logOutEverywhere(
  db: Database,
  actor: Actor,
  user: Pick<User, 'id' | 'username'>,
  check?: RefusalCheck,
): Promise<{ ok: true; ended: number } | { ok: false; message: string }> {
  return db.transaction(async (tx) => {
    const refused = check ? await check(tx) : null;
    if (refused) return { ok: false, message: refused.message } as const;
    const count = await endUserSessions(tx, user.id);
    await recordAudit(tx, actor, { action: 'session_revoked', target: userTarget(user), count, scope: 'all sessions' });
    return { ok: true, ended: count } as const;
  });
}

/** Ends one of the user's own sessions; false when it is not theirs (or already gone). */
export async function endOwnSession(db: Database, actor: Actor & { id: string }, sid: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const ended = await tx
      .delete(sessions)
      .where(and(eq(sessions.sid, sid), eq(sessions.userId, actor.id)))
      .returning({ ip: sessions.ip });
    if (ended.length === 0) return false;
    await recordAudit(tx, actor, { action: 'session_revoked', target: selfTarget(actor), session_ip: ended[0]!.ip });
    return true;
  });
}

/** The refusal of ending a session that is somebody else's, recorded (the admin's way is users_auth_session). */
export async function refuseForeignSession(
  db: Database,
  actor: Actor,
  owner: Pick<User, 'id' | 'username'>,
): Promise<void> {
  await recordRefusal(db, actor, userTarget(owner), "Ending another user's session needs users_auth_session.", [
    'users_auth_session',
  ]);
}

export async function endOtherOwnSessions(
  db: Database,
  actor: Actor & { id: string },
  keepSid: string,
): Promise<number> {
  return db.transaction(async (tx) => {
    const ended = await tx
      .delete(sessions)
      .where(and(eq(sessions.userId, actor.id), ne(sessions.sid, keepSid)))
      .returning({ sid: sessions.sid });
    if (ended.length > 0)
      await recordAudit(tx, actor, {
        action: 'session_revoked',
        target: selfTarget(actor),
        count: ended.length,
        scope: 'all other sessions',
      });
    return ended.length;
  });
}
