import type { SessionStore } from '@fastify/session';
import type { Session } from 'fastify';
import { and, eq, gt, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { sessions } from '../db/schema.js';
import { executedRows } from '../db/sql-helpers.js';
import type { CurrentUser } from '../security/current-user.js';

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

/** How the session read brings the session's user along (given by the app: this plugin knows no domain). */
export interface SessionUserQuery {
  /** A select of the user whose id is the given SQL expression. */
  select(userId: SQL): SQL;
  /** Its row as the request's user, or null if they may no longer use Roster. */
  toUser(row: unknown): CurrentUser | null;
}

/** Past this many reads not taken (requests that failed in between), all are dropped: such a request only reads its user again. */
const MAX_UNTAKEN = 1_000;

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
    private readonly userQuery?: SessionUserQuery,
  ) {}

  /**
   * Users read with their sessions, by session id, until the request takes them (`takeUser`):
   * @fastify/session keeps only the session data, so the user travels beside it.
   */
  private readonly readUsers = new Map<string, CurrentUser | null>();

  /** The user read with session `sid` (null: the session's user may not use Roster), or undefined if none was read. */
  takeUser(sid: string): CurrentUser | null | undefined {
    const user = this.readUsers.get(sid);
    this.readUsers.delete(sid);
    return user;
  }

  get(sid: string, callback: GetCallback): void {
    if (this.userQuery) return this.getWithUser(sid, this.userQuery, callback);
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

  /** The session and its user in one statement: a logged-in request's only query before its own. */
  private getWithUser(sid: string, userQuery: SessionUserQuery, callback: GetCallback): void {
    const now = new Date(this.now()).toISOString();
    const oldest = oldestAllowed(this.lifetime, this.now()).toISOString();
    this.db
      .execute(
        sql`select s.data, s.user_id is not null as "hasUser", (select to_jsonb(cu) from (${userQuery.select(sql`s.user_id`)}) cu) as "user"
          from ${sessions} s where s.sid = ${sid} and s.expires_at > ${now}::timestamptz and s.created_at > ${oldest}::timestamptz`,
      )
      .then((result) => {
        const [row] = executedRows<{ data: Session; hasUser: boolean; user: unknown }>(result);
        if (row?.hasUser) {
          if (this.readUsers.size >= MAX_UNTAKEN) this.readUsers.clear();
          this.readUsers.set(sid, userQuery.toUser(row.user));
        }
        callback(null, row?.data ?? null);
      }, callback);
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
  await db
    .delete(sessions)
    .where(or(lt(sessions.expiresAt, new Date(nowMs)), lt(sessions.createdAt, oldestAllowed(lifetime, nowMs))));
}
