// SQL helpers every repository uses: LIKE patterns, id checks, constraint errors.

/** Lower-cased search term without control characters and with LIKE wildcards escaped. */
export function searchPattern(search: string): string | null {
  const term = search.replace(/\p{Cc}/gu, '').trim().toLowerCase();
  if (term === '') return null;
  return `%${term.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
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
