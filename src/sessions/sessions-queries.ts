// Who is logged in where: a user's sessions, newest activity first.
import crypto from 'node:crypto';
import { desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { sessions, users } from '../db/schema.js';

export function sessionsOfUser(db: Database, userId: string) {
  return db
    .select({
      sid: sessions.sid,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      ip: sessions.ip,
      userAgent: sessions.userAgent,
    })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .orderBy(desc(sessions.lastSeenAt));
}

/** A session's handle in pages and URLs: never the session id itself, which is a credential. */
export function sessionHandle(sid: string): string {
  return crypto.createHash('sha256').update(sid).digest('hex').slice(0, 24);
}

/**
 * Whose live session a handle names (sessionHandle, computed by the database), or null. For
 * telling a try at somebody else's session from one that had already ended.
 */
export async function ownerOfSessionHandle(db: Database, handle: string) {
  const [owner] = await db
    .select({ id: users.id, username: users.username })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(sql`left(encode(sha256(convert_to(${sessions.sid}, 'UTF8')), 'hex'), 24) = ${handle}`)
    .limit(1);
  return owner ?? null;
}
