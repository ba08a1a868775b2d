import type { SessionStore } from '@fastify/session';
import type { Session } from 'fastify';
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { sessions } from '../db/schema.js';

export interface SessionLifetime {
  idleMinutes: number;
  absoluteHours: number;
}

type Callback = (error?: unknown) => void;
type GetCallback = (error: unknown, session?: Session | null) => void;

/**
 * @fastify/session store backed by the `sessions` table. Expiry is enforced here, on the
 * server: a session unused for `idleMinutes`, or older than `absoluteHours`, is never returned.
 */
export class DatabaseSessionStore implements SessionStore {
  constructor(
    private readonly db: Database,
    private readonly lifetime: SessionLifetime,
  ) {}

  get(sid: string, callback: GetCallback): void {
    this.db
      .select({ data: sessions.data })
      .from(sessions)
      .where(
        and(
          eq(sessions.sid, sid),
          gt(sessions.expiresAt, sql`now()`),
          gt(sessions.createdAt, sql`now() - make_interval(hours => ${this.lifetime.absoluteHours})`),
        ),
      )
      .then((rows) => callback(null, (rows[0]?.data as Session | undefined) ?? null), callback);
  }

  set(sid: string, session: Session, callback: Callback): void {
    const data = JSON.parse(JSON.stringify(session)) as Session;
    const userId = data.userId ?? null;
    const expiresAt = sql`now() + make_interval(mins => ${this.lifetime.idleMinutes})`;
    const meta = { ip: String(data.ip ?? ''), userAgent: String(data.userAgent ?? '').slice(0, 512) };
    this.db
      .insert(sessions)
      .values({ sid, userId, data, expiresAt, ...meta })
      .onConflictDoUpdate({
        target: sessions.sid,
        set: { userId, data, expiresAt, lastSeenAt: sql`now()`, ...meta },
      })
      .then(() => callback(), callback);
  }

  destroy(sid: string, callback: Callback): void {
    this.db
      .delete(sessions)
      .where(eq(sessions.sid, sid))
      .then(() => callback(), callback);
  }
}

export async function deleteExpiredSessions(db: Database, lifetime: SessionLifetime): Promise<void> {
  await db
    .delete(sessions)
    .where(
      sql`${lt(sessions.expiresAt, sql`now()`)} or ${lt(
        sessions.createdAt,
        sql`now() - make_interval(hours => ${lifetime.absoluteHours})`,
      )}`,
    );
}
