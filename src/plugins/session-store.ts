import type { SessionStore } from '@fastify/session';
import type { Session } from 'fastify';
import { and, eq, gt, lt, or } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { sessions } from '../db/schema.js';

export interface SessionLifetime {
  idleMinutes: number;
  absoluteHours: number;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The oldest creation time a session may have at `nowMs`. */
const oldestAllowed = (lifetime: SessionLifetime, nowMs: number) => new Date(nowMs - lifetime.absoluteHours * HOUR_MS);

type Callback = (error?: unknown) => void;
type GetCallback = (error: unknown, session?: Session | null) => void;

/**
 * @fastify/session store backed by the `sessions` table. Expiry is enforced here, on the
 * server: a session unused for `idleMinutes`, or older than `absoluteHours`, is never returned.
 * Times come from the app's clock (`now`), so tests set the time instead of waiting.
 */
export class DatabaseSessionStore implements SessionStore {
  constructor(
    private readonly db: Database,
    private readonly lifetime: SessionLifetime,
    private readonly now: () => number,
  ) {}

  get(sid: string, callback: GetCallback): void {
    this.db
      .select({ data: sessions.data })
      .from(sessions)
      .where(
        and(
          eq(sessions.sid, sid),
          gt(sessions.expiresAt, new Date(this.now())),
          gt(sessions.createdAt, oldestAllowed(this.lifetime, this.now())),
        ),
      )
      .then((rows) => callback(null, (rows[0]?.data as Session | undefined) ?? null), callback);
  }

  set(sid: string, session: Session, callback: Callback): void {
    const data = JSON.parse(JSON.stringify(session)) as Session;
    const userId = data.userId ?? null;
    const now = new Date(this.now());
    const expiresAt = new Date(now.getTime() + this.lifetime.idleMinutes * MINUTE_MS);
    const meta = { ip: String(data.ip ?? ''), userAgent: String(data.userAgent ?? '').slice(0, 512) };
    this.db
      .insert(sessions)
      .values({ sid, userId, data, expiresAt, createdAt: now, lastSeenAt: now, ...meta })
      .onConflictDoUpdate({
        target: sessions.sid,
        set: { userId, data, expiresAt, lastSeenAt: now, ...meta },
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

export async function deleteExpiredSessions(db: Database, lifetime: SessionLifetime, nowMs: number): Promise<void> {
  await db.delete(sessions).where(or(lt(sessions.expiresAt, new Date(nowMs)), lt(sessions.createdAt, oldestAllowed(lifetime, nowMs))));
}
