// SQL helpers every repository uses: LIKE patterns, id checks, constraint errors.
import { and, like, sql, type SQL } from 'drizzle-orm';
import { users } from './schema.js';

/** Lower-cased search term without control characters and with LIKE wildcards escaped. */
export function searchPattern(search: string): string | null {
  const term = search
    .replace(/\p{Cc}/gu, '')
    .trim()
    .toLowerCase();
  if (term === '') return null;
  return `%${term.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
}

/** Shortest term the trigram index serves: a shorter one would scan every user. */
const TRIGRAM_MIN = 3;

/**
 * Which users a search term finds. Three characters or more: anywhere in the user name, names,
 * email or organization (the trigram index on search_text). One or two: user names starting with
 * it, through the lower(username) index (the range bounds the index scan; LIKE keeps it exact).
 */
export function userSearchCondition(search: string): SQL | undefined {
  const pattern = searchPattern(search);
  if (pattern === null) return undefined;
  const term = pattern.slice(1, -1).replace(/\\(.)/g, '$1');
  if ([...term].length >= TRIGRAM_MIN) return like(users.searchText, pattern);
  const name = sql`lower(${users.username})`;
  return and(sql`${name} >= ${term}`, sql`${name} < ${`${term}\u{10FFFF}`}`, like(name, `${pattern.slice(1)}`));
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** True when `error` (or what it wraps) is a Postgres unique violation. */
export function isUniqueViolation(error: unknown): boolean {
  // Drizzle wraps driver errors; the Postgres code sits on the error or one of its causes.
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A position in a keyset-paged list: the sort value and id of a row (Next starts after it, Previous before it). */
export interface ListCursor {
  value: string;
  id: string;
}

/** Where a keyset page starts: after a row (Next), before one (Previous), or at a page number (no cursor). */
export interface KeysetPosition {
  page: number;
  after?: ListCursor;
  before?: ListCursor;
}

/**
 * A keyset page from the `perPage + 1` rows its query read (backwards, for Previous): the rows in
 * display order, whether there are pages either side, and where Next and Previous continue.
 * Each row carries `sortKey`, its sort value as the query selected it (as text): a cursor holds
 * what the database will compare, never a value recomputed in JavaScript, whose lower-casing and
 * formatting differ from the database's (users were skipped, or one repeated forever).
 */
export function keysetPage<Row extends { id: string; sortKey: string }>(
  fetched: Row[],
  perPage: number,
  position: KeysetPosition,
) {
  const backwards = position.before !== undefined;
  const more = fetched.length > perPage; // the extra row says there is another page that way
  const rows = fetched.slice(0, perPage);
  if (backwards) rows.reverse();
  const cursorAt = (row: Row | undefined): ListCursor | null => (row ? { value: row.sortKey, id: row.id } : null);
  return {
    rows,
    hasNext: backwards ? true : more,
    hasPrevious: backwards ? more : position.after !== undefined || position.page > 1,
    nextCursor: cursorAt(rows[rows.length - 1]),
    previousCursor: cursorAt(rows[0]),
  };
}

/** A cursor as it travels in a link: base64url of JSON [value, id]. */
export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify([cursor.value, cursor.id])).toString('base64url');
}

/** The cursor of a link, or undefined when it is not one of ours (then the page number applies). */
export function decodeCursor(text: string | undefined): ListCursor | undefined {
  if (!text) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
    const [value, id] = parsed as unknown[];
    if (
      typeof value !== 'string' ||
      typeof id !== 'string' ||
      !isUuid(id) ||
      value.length > 1000 ||
      /\p{Cc}/u.test(value)
    )
      return undefined;
    return { value, id };
  } catch {
    return undefined;
  }
}

/** The rows of `db.execute`: PGlite answers `{ rows }`, postgres.js an array of rows. */
export function executedRows<Row>(result: unknown): Row[] {
  return Array.isArray(result) ? (result as Row[]) : ((result as { rows?: Row[] }).rows ?? []);
}
