// Reads of users (docs/rules.md#users): the list, one user, name clashes. No audit, no rules, no
// transactions of their own; changes go through users-commands.ts.
import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import {
  identityProviders,
  userGroups,
  userIdentities,
  users,
  workspaceSessions,
  type Realm,
  type User,
} from '../db/schema.js';
import { isUuid, keysetPage, userSearchCondition, type ListCursor } from '../db/sql-helpers.js';
import type { UserSortKey, UserStatus } from '../schemas/users.js';
import { effectivePermissionsOf } from '../groups/groups-queries.js';
import { strongerUserBlocks } from '../security/permissions.js';
import { normalUserName } from './user-validation.js';

/**
 * What each sort orders by. Last Session is nullable: never-logged-in users sort last in both
 * directions, as +infinity ascending and -infinity descending, so the keyset comparison needs no
 * NULL cases and an expression index serves each direction.
 */
export function sortExpression(sort: UserSortKey, direction: SortDirection): SQL {
  switch (sort) {
    case 'username':
      return sql`lower(${users.username})`;
    case 'last_session':
      return direction === 'asc'
        ? sql`coalesce(${users.lastSession}, 'infinity'::timestamptz)`
        : sql`coalesce(${users.lastSession}, '-infinity'::timestamptz)`;
    case 'first_name':
      return sql`${users.firstName}`;
    case 'last_name':
      return sql`${users.lastName}`;
    case 'realm':
      return sql`${users.realm}`;
    case 'organization':
      return sql`${users.organization}`;
    case 'email':
      return sql`${users.email}`;
  }
}

export type UserSort = UserSortKey;
export type SortDirection = 'asc' | 'desc';

export interface UserListQuery {
  search: string;
  sort: UserSort;
  direction: SortDirection;
  /** The page number shown; without a cursor it is also where the page starts (OFFSET). */
  page: number;
  perPage: number;
  /** Filters, combinable with the search. */
  realm?: Realm;
  status?: UserStatus;
  groupId?: string;
  /** Keyset paging: rows after this one (Next) or before it (Previous): page 1,500 costs what page 1 costs. */
  after?: ListCursor;
  before?: ListCursor;
}

export type UserListRow = Pick<
  User,
  | 'id'
  | 'username'
  | 'firstName'
  | 'lastName'
  | 'realm'
  | 'organization'
  | 'email'
  | 'lastSession'
  | 'locked'
  | 'disabled'
>;

export interface UserListPage {
  rows: UserListRow[];
  /** Matching users, counted up to COUNT_CAP (or estimated, for the whole unfiltered table). */
  total: number;
  /** More than COUNT_CAP users match: `total` is a lower bound or an estimate. */
  capped: boolean;
  /** `total` is the planner's estimate for the whole table (no search or filter). */
  estimated: boolean;
  hasNext: boolean;
  hasPrevious: boolean;
  /** Where the next and previous pages start. */
  nextCursor: ListCursor | null;
  previousCursor: ListCursor | null;
}

/**
 * Counting stops here: an exact count of 100,000 rows costs a full scan on every keystroke,
 * and nobody pages through more than this by hand (they search).
 */
export const COUNT_CAP = 10_000;

/**
 * One page of the users table. The search is a substring match over the generated
 * `search_text` column, which a trigram GIN index serves; sorting uses per-column indexes; Next
 * and Previous continue from a cursor (keyset), so a deep page reads no more rows than the first.
 */
export async function listUsers(db: Database, query: UserListQuery): Promise<UserListPage> {
  const status = {
    active: and(eq(users.locked, false), eq(users.disabled, false)),
    locked: eq(users.locked, true),
    disabled: eq(users.disabled, true),
  };
  const filters: SQL | undefined = and(
    userSearchCondition(query.search),
    query.realm ? eq(users.realm, query.realm) : undefined,
    query.status ? status[query.status] : undefined,
    query.groupId
      ? sql`exists (select 1 from ${userGroups} where ${userGroups.userId} = ${users.id} and ${userGroups.groupId} = ${query.groupId})`
      : undefined,
  );
  const expression = sortExpression(query.sort, query.direction);
  const cast = query.sort === 'last_session' ? sql`::timestamptz` : sql``;
  // Previous reads backwards from its cursor, then turns the rows round.
  const backwards = query.before !== undefined;
  const cursor = query.before ?? query.after;
  const ascending = (query.direction === 'asc') !== backwards;
  const beyond = cursor
    ? sql`(${expression}, ${users.id}) ${sql.raw(ascending ? '>' : '<')} (${cursor.value}${cast}, ${cursor.id}::uuid)`
    : undefined;
  const direction = sql.raw(ascending ? 'asc' : 'desc');
  // How many match rides along on each row (an uncorrelated subquery, computed once),
  // so that a page is one statement; an empty page or a small table asks again below.
  const matching =
    filters === undefined
      ? ESTIMATED_USERS
      : sql<number>`(select count(*)::int from (select 1 from ${users} where ${filters} limit ${COUNT_CAP + 1}) matching)`;
  const fetched = await db
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
      sortKey: sql<string>`(${expression})::text`,
      matching: matching.mapWith(Number),
    })
    .from(users)
    .where(and(filters, beyond))
    .orderBy(sql`${expression} ${direction}`, sql`${users.id} ${direction}`)
    .limit(query.perPage + 1) // one more than shown tells whether there is another page
    .offset(cursor ? 0 : (query.page - 1) * query.perPage);
  const first = fetched[0];
  const counted =
    first && (filters !== undefined || first.matching > COUNT_CAP)
      ? totalFrom(first.matching, filters !== undefined)
      : await countMatching(db, filters, first?.matching);
  const { rows, ...paging } = keysetPage(fetched, query.perPage, query);
  return { rows: rows.map(({ sortKey: _key, matching: _matching, ...row }) => row), ...counted, ...paging };
}

/** The planner's row count of the users table (kept by autovacuum/ANALYZE): free, and close enough for "about N". */
const ESTIMATED_USERS = sql<number>`(select greatest(reltuples, 0)::bigint::int from pg_class where oid = 'users'::regclass)`;

/** "N users" from a count taken up to COUNT_CAP (a search or filter) or the planner's estimate past it (the whole table). */
function totalFrom(count: number, filtered: boolean): Pick<UserListPage, 'total' | 'capped' | 'estimated'> {
  if (count <= COUNT_CAP) return { total: count, capped: false, estimated: false };
  return filtered
    ? { total: COUNT_CAP, capped: true, estimated: false }
    : { total: count, capped: true, estimated: true };
}

/**
 * How many users match, when the page itself did not say (it was empty, or the table is small).
 * The whole table is the planner's estimate once it is past COUNT_CAP (an exact count would read
 * every row on every page); a search or filter, or a small table, is counted exactly up to COUNT_CAP.
 */
async function countMatching(
  db: Database,
  filters: SQL | undefined,
  knownEstimate?: number,
): Promise<Pick<UserListPage, 'total' | 'capped' | 'estimated'>> {
  if (filters === undefined) {
    const estimate = knownEstimate ?? (await estimatedUserCount(db));
    if (estimate > COUNT_CAP) return totalFrom(estimate, false);
  }
  const matching = db
    .select({ one: sql`1` })
    .from(users)
    .where(filters)
    .limit(COUNT_CAP + 1)
    .as('matching');
  const [counted] = await db.select({ total: sql<number>`count(*)::int` }).from(matching);
  // Unfiltered and past the cap: the estimate lags behind (statistics not refreshed yet), the table has at least this many.
  return totalFrom(counted?.total ?? 0, filters !== undefined);
}

async function estimatedUserCount(db: Database): Promise<number> {
  const [row] = await db.select({ n: ESTIMATED_USERS.mapWith(Number) }).from(sql`(select 1) one`);
  return row?.n ?? 0;
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
    .where(sql`lower(${users.username}) = lower(${normalUserName(username)})`);
  return user;
}

/** Whether another user (ignoring case) already has `username`. */
export async function usernameTaken(db: Database, username: string, exceptId?: string): Promise<boolean> {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(sql`lower(${users.username}) = lower(${username})`, exceptId ? sql`${users.id} <> ${exceptId}` : undefined),
    );
  return row !== undefined;
}

/** Whether `actor` may change `user` at all (for showing or hiding the forms): no way up. */
export async function mayChangeUser(db: Database, actor: ReadonlySet<string>, user: User): Promise<boolean> {
  return strongerUserBlocks(actor, await effectivePermissionsOf(db, user.id, user.realm)).length === 0;
}

/** Whether the user has a workspace session (deleting them then needs the API's force). */
export async function hasWorkspaceSessions(db: Database, userId: string): Promise<boolean> {
  const running = await db
    .select({ id: workspaceSessions.id })
    .from(workspaceSessions)
    .where(eq(workspaceSessions.userId, userId))
    .limit(1);
  return running.length > 0;
}

/** The user's identities at identity providers, for their page and get_user (docs/rules.md#realms). */
export async function identitiesOfUser(db: Database, userId: string) {
  return db
    .select({
      id: userIdentities.id,
      providerId: userIdentities.providerId,
      providerName: identityProviders.name,
      providerKind: identityProviders.kind,
      subject: userIdentities.subject,
      externalName: userIdentities.externalName,
      lastSyncAt: userIdentities.lastSyncAt,
    })
    .from(userIdentities)
    .innerJoin(identityProviders, eq(identityProviders.id, userIdentities.providerId))
    .where(eq(userIdentities.userId, userId))
    .orderBy(asc(identityProviders.name));
}

/** The LDAP directories a user may be linked to (enabled or not: an admin may link before enabling). */
export function directoryChoices(db: Database) {
  return db
    .select({ id: identityProviders.id, name: identityProviders.name })
    .from(identityProviders)
    .where(eq(identityProviders.kind, 'ldap'))
    .orderBy(asc(identityProviders.sortOrder), asc(identityProviders.name));
}
