import { and, asc, desc, eq, like, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import type { Database } from '../db/client.js';
import { recoveryCodes, userGroups, users, type NewUser, type Realm, type User } from '../db/schema.js';
import { isUuid, searchPattern } from '../db/sql-helpers.js';
import type { UserSortKey, UserStatus } from '../schemas/users.js';

export const USER_SORTS: Record<UserSortKey, SQL | AnyPgColumn> = {
  username: sql`lower(${users.username})`,
  first_name: users.firstName,
  last_name: users.lastName,
  realm: users.realm,
  organization: users.organization,
  email: users.email,
  last_session: users.lastSession,
};

export type UserSort = UserSortKey;
export type SortDirection = 'asc' | 'desc';

export interface UserListQuery {
  search: string;
  sort: UserSort;
  direction: SortDirection;
  page: number;
  perPage: number;
  /** Filters, combinable with the search. */
  realm?: Realm;
  status?: UserStatus;
  groupId?: string;
}

export type UserListRow = Pick<
  User,
  'id' | 'username' | 'firstName' | 'lastName' | 'realm' | 'organization' | 'email' | 'lastSession' | 'locked' | 'disabled'
>;

export interface UserListPage {
  rows: UserListRow[];
  /** Matching users, counted up to COUNT_CAP. */
  total: number;
  /** More than COUNT_CAP users match: `total` is a lower bound. */
  capped: boolean;
  hasNext: boolean;
}

/**
 * Counting stops here: an exact count of 100,000 rows costs a full scan on every keystroke,
 * and nobody pages through more than this by hand (they search).
 */
export const COUNT_CAP = 10_000;

/**
 * One page of the users table. The search is a substring match over the generated
 * `search_text` column, which a trigram GIN index serves; sorting uses per-column indexes.
 */
export async function listUsers(db: Database, query: UserListQuery): Promise<UserListPage> {
  const pattern = searchPattern(query.search);
  const status = { active: and(eq(users.locked, false), eq(users.disabled, false)), locked: eq(users.locked, true), disabled: eq(users.disabled, true) };
  const where: SQL | undefined = and(
    pattern === null ? undefined : like(users.searchText, pattern),
    query.realm ? eq(users.realm, query.realm) : undefined,
    query.status ? status[query.status] : undefined,
    query.groupId
      ? sql`exists (select 1 from ${userGroups} where ${userGroups.userId} = ${users.id} and ${userGroups.groupId} = ${query.groupId})`
      : undefined,
  );
  // Never-logged-in users (no Last Session) come last in both directions.
  const column = USER_SORTS[query.sort];
  const sortKey = query.sort === 'last_session' ? sql`${column} ${sql.raw(query.direction)} nulls last` : (query.direction === 'desc' ? desc : asc)(column);
  const order = query.direction === 'desc' ? desc : asc;
  const matching = db.select({ one: sql`1` }).from(users).where(where).limit(COUNT_CAP + 1).as('matching');
  const [rows, [counted]] = await Promise.all([
    db
      .select({
        id: users.id,
        username: users.username,
        firstName: users.firstName,
        lastName: users.lastName,
        realm: users.realm,
        organization: users.organization,
        email: users.email,
        lastSession: users.lastSession,
        locked: users.locked,
        disabled: users.disabled,
      })
      .from(users)
      .where(where)
      .orderBy(sortKey, order(users.id))
      .limit(query.perPage + 1) // one more than shown tells whether there is a next page
      .offset((query.page - 1) * query.perPage),
    db.select({ total: sql<number>`count(*)::int` }).from(matching),
  ]);
  const total = counted?.total ?? 0;
  return {
    rows: rows.slice(0, query.perPage),
    total: Math.min(total, COUNT_CAP),
    capped: total > COUNT_CAP,
    hasNext: rows.length > query.perPage,
  };
}

export async function findUserById(db: Database, id: string): Promise<User | undefined> {
  if (!isUuid(id)) return undefined;
  const [user] = await db.select().from(users).where(eq(users.id, id));
  return user;
}

export async function findUserByUsername(db: Database, username: string): Promise<User | undefined> {
  const [user] = await db
    .select()
    .from(users)
    .where(sql`lower(${users.username}) = lower(${username.trim()})`);
  return user;
}

/** Whether another user (ignoring case) already has `username`. */
export async function usernameTaken(db: Database, username: string, exceptId?: string): Promise<boolean> {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(
        sql`lower(${users.username}) = lower(${username})`,
        exceptId ? sql`${users.id} <> ${exceptId}` : undefined,
      ),
    );
  return row !== undefined;
}

export async function insertUser(db: Database, values: NewUser): Promise<User> {
  const [user] = await db.insert(users).values(values).returning();
  if (!user) throw new Error('insert returned no user');
  return user;
}

/**
 * Updates a user only if it is still at `expectedVersion` (optimistic locking). Returns the
 * updated user, or undefined when someone else changed (or deleted) it in the meantime.
 */
export async function updateUserAtVersion(
  db: Database,
  id: string,
  expectedVersion: number,
  changes: Partial<NewUser>,
): Promise<User | undefined> {
  const [user] = await db
    .update(users)
    .set({ ...changes, version: sql`${users.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(users.id, id), eq(users.version, expectedVersion)))
    .returning();
  return user;
}

export async function deleteUserById(db: Database, id: string): Promise<boolean> {
  const deleted = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return deleted.length > 0;
}

/** Clears a user's factor and recovery codes (their own removal, or an admin's reset). */
export async function clearTwoFactor(db: Database, userId: string): Promise<void> {
  await db.update(users).set({ twoFactorSecret: null, twoFactorEnabled: false, twoFactorLastStep: null }).where(eq(users.id, userId));
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
}
