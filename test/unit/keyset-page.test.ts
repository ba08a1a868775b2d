// The keyset paging rule shared by the users list and a group's members: which rows show, in
// what order, and where Next and Previous continue.
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, keysetPage } from '../../src/db/sql-helpers.js';

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const row = (n: number) => ({ id: id(n), sortKey: `user-${n}` });
const byName = (r: { sortKey: string }) => r.sortKey;

describe('keysetPage', () => {
  it('page 1: the extra row read means there is a Next, and there is no Previous', () => {
    const page = keysetPage([1, 2, 3].map(row), 2, { page: 1 });
    expect(page.rows.map(byName)).toEqual(['user-1', 'user-2']);
    expect(page).toMatchObject({ hasNext: true, hasPrevious: false });
    expect(page.nextCursor).toEqual({ value: 'user-2', id: id(2) });
    expect(page.previousCursor).toEqual({ value: 'user-1', id: id(1) });
  });

  it('after a cursor: the last page has no Next, and has a Previous', () => {
    const page = keysetPage([3, 4].map(row), 2, { page: 2, after: { value: 'user-2', id: id(2) } });
    expect(page).toMatchObject({ hasNext: false, hasPrevious: true });
  });

  it('before a cursor: rows read backwards come back in display order; the extra row means another Previous', () => {
    const backwards = keysetPage([4, 3, 2].map(row), 2, { page: 3, before: { value: 'user-5', id: id(5) } });
    expect(backwards.rows.map(byName)).toEqual(['user-3', 'user-4']);
    expect(backwards).toMatchObject({ hasNext: true, hasPrevious: true });
    const first = keysetPage([2, 1].map(row), 2, { page: 2, before: { value: 'user-3', id: id(3) } });
    expect(first).toMatchObject({ hasNext: true, hasPrevious: false });
  });

  it('an empty page has no cursors', () => {
    expect(keysetPage([], 25, { page: 1 })).toEqual({
      rows: [],
      hasNext: false,
      hasPrevious: false,
      nextCursor: null,
      previousCursor: null,
    });
  });

  it('a cursor survives its trip through a link, and one that is not ours is ignored', () => {
    const cursor = { value: 'o’brien, ann', id: id(7) };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const spoiled of [
      '',
      'not-base64!',
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from(JSON.stringify(['x', 'not-a-uuid'])).toString('base64url'),
    ]) {
      expect(decodeCursor(spoiled)).toBeUndefined();
    }
  });
});
