// The reads the API needs in bulk (get_users streams every user; kasm calls read sessions with
// their expiry): a fixed number of statements per batch, whatever the batch size.
import { asc, eq, gt, inArray, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { groups, userGroups, users, workspaceSessions } from '../db/schema.js';
import type { RefusalCheck } from '../security/permissions.js';
import type { KasmSessionRow, KasmUserRow } from './kasm-shapes.js';

/** A plan setting's value in seconds (0 when absent). */
const planSeconds = (key: string) =>
  sql<number>`coalesce((select (s->>'value')::int from jsonb_array_elements(${workspaceSessions.plan}->'settings') s where s->>'key' = ${key} and jsonb_typeof(s->'value') = 'number'), 0)`;

const sessionColumns = {
  id: workspaceSessions.id,
  userId: workspaceSessions.userId,
  workspaceId: workspaceSessions.workspaceId,
  workspaceName: workspaceSessions.workspaceName,
  createdAt: workspaceSessions.createdAt,
  keepaliveAt: workspaceSessions.keepaliveAt,
  keepaliveSeconds: planSeconds('keepalive_expiration'),
  timeLimitSeconds: planSeconds('session_time_limit'),
};

export function kasmSessions(db: Database, where?: SQL): Promise<KasmSessionRow[]> {
  return db
    .select(sessionColumns)
    .from(workspaceSessions)
    .where(where)
    .orderBy(asc(workspaceSessions.createdAt), asc(workspaceSessions.id));
}

export async function kasmSessionById(
  db: Database,
  id: string,
): Promise<(KasmSessionRow & { username: string; realm: string }) | undefined> {
  const [row] = await db
    .select({ ...sessionColumns, username: users.username, realm: users.realm })
    .from(workspaceSessions)
    .innerJoin(users, eq(users.id, workspaceSessions.userId))
    .where(eq(workspaceSessions.id, id));
  return row;
}

/** Moves a session's keepalive to `now`: 'kept', 'gone', or the refusal of `check` (a stronger user's session). */
export function keepSessionAlive(
  db: Database,
  id: string,
  now: Date,
  check?: RefusalCheck,
): Promise<'kept' | 'gone' | { refused: string }> {
  return db.transaction(async (tx) => {
    const refused = check ? await check(tx) : null;
    if (refused) return { refused: refused.message };
    const updated = await tx
      .update(workspaceSessions)
      .set({ keepaliveAt: now })
      .where(eq(workspaceSessions.id, id))
      .returning({ id: workspaceSessions.id });
    return updated.length > 0 ? 'kept' : 'gone';
  });
}

const userColumns = {
  id: users.id,
  username: users.username,
  firstName: users.firstName,
  lastName: users.lastName,
  phone: users.phone,
  email: users.email,
  organization: users.organization,
  realm: users.realm,
  city: users.city,
  state: users.state,
  country: users.country,
  notes: users.notes,
  locked: users.locked,
  disabled: users.disabled,
  twoFactorEnabled: users.twoFactorEnabled,
  createdAt: users.createdAt,
  passwordChangedAt: users.passwordChangedAt,
  lastSession: users.lastSession,
};

/**
 * The next `limit` users by user name after the key `after`, or page `offset`. Each row carries
 * its key, lower(username) as the database computed it: the next batch continues from that value,
 * never from a name lower-cased in JavaScript (whose case rules differ from the database's, which
 * skipped users or repeated one forever). User names are unique ignoring case, so the key alone is
 * a keyset cursor on its unique index.
 */
export function userBatch(
  db: Database,
  options: { after?: string; offset?: number; limit: number },
): Promise<Array<KasmUserRow & { sortKey: string }>> {
  const name = sql<string>`lower(${users.username})`;
  return db
    .select({ ...userColumns, sortKey: name })
    .from(users)
    .where(options.after === undefined ? undefined : gt(name, options.after))
    .orderBy(name)
    .limit(options.limit)
    .offset(options.offset ?? 0);
}

export async function kasmUserRow(db: Database, id: string): Promise<KasmUserRow | undefined> {
  const [row] = await db.select(userColumns).from(users).where(eq(users.id, id));
  return row;
}

/** The groups and workspace sessions of these users, by user id (two statements). */
export async function groupsAndSessionsOf(db: Database, userIds: string[]) {
  const groupsOf = new Map<string, Array<{ id: string; name: string }>>();
  const sessionsOf = new Map<string, KasmSessionRow[]>();
  if (userIds.length === 0) return { groupsOf, sessionsOf };
  const [memberships, sessions] = await Promise.all([
    db
      .select({ userId: userGroups.userId, id: groups.id, name: groups.name })
      .from(userGroups)
      .innerJoin(groups, eq(groups.id, userGroups.groupId))
      .where(inArray(userGroups.userId, userIds))
      .orderBy(groups.priority),
    kasmSessions(db, inArray(workspaceSessions.userId, userIds)),
  ]);
  for (const { userId, ...group } of memberships) groupsOf.set(userId, [...(groupsOf.get(userId) ?? []), group]);
  for (const session of sessions) sessionsOf.set(session.userId, [...(sessionsOf.get(session.userId) ?? []), session]);
  return { groupsOf, sessionsOf };
}
