// Keyset cursors continue from what the database compares (issue 18): user names whose case rules
// differ between JavaScript and the database (İ, U+A7CB, ß, the Kelvin sign…) are placed at every
// batch and page boundary in turn; get_users, the users list and a group's members return each
// user exactly once and end. Run on PGlite and, with TEST_DATABASE_URL, on PostgreSQL.
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMBERS_PER_PAGE } from '../../src/groups/groups-queries.js';
import { userGroups, users } from '../../src/db/schema.js';
import { callApi, insertApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createGroup } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** Names JavaScript and the database lower-case differently, and neighbours of what they become. */
const TRICKY = [
  'İbrahim',
  'ibrahim',
  'i̇brahim',
  'ıbrahim',
  'ꟋA',
  'ꟋB',
  'ɤa',
  'ß',
  'SS',
  'ẞ',
  'Straße',
  'STRASSE',
  'ǅemal',
  'ǆemal',
  'Σίσυφος',
  'ΣΊΣΥΦΟΣ',
  '\u212Aelvin',
  'kelvin',
  '\u212Bngstrom',
  'ångstrom',
  'Ⱥlpha',
  'ⱥlpha',
  'user-a',
  'user-b',
];

let t: TestApp;
let admin: TestClient;
let fillers = 0;

beforeAll(async () => {
  t = await createTestApp({ API_STREAM_BATCH: '1' }); // every user is the last of a batch
  admin = await new TestClient(t.app).loginAsFirstAdmin();
  // One at a time: a name equal to another under the database's lower() is left out.
  for (const username of TRICKY)
    await t.handle.db.insert(users).values({ username, firstName: username }).onConflictDoNothing();
  // Enough others for two pages and more.
  await t.handle.db
    .insert(users)
    .values(Array.from({ length: 30 }, (_, i) => ({ username: `z-${String(i).padStart(2, '0')}`, firstName: 'z' })));
});
afterAll(() => t.close());

const everyone = async () =>
  (await t.handle.db.select({ id: users.id, username: users.username }).from(users)).map((u) => u.username).sort();
/** A user that sorts before all the others, so that each boundary moves one row on. */
const addFiller = async () =>
  (
    await t.handle.db
      .insert(users)
      .values({ username: `0-${String(++fillers).padStart(3, '0')}`, firstName: '0' })
      .returning()
  )[0]!;

/** User names in the table of a page, in order (users list and group members alike). */
const namesIn = (html: string) =>
  [...html.matchAll(/<td><a href="\/admin\/users\/[0-9a-f-]+">([^<]+)<\/a><\/td>/g)].map((m) =>
    m[1]!.replaceAll('&amp;', '&'),
  );
const nextOf = (html: string) => /href="([^"]+)"[^>]*rel="next"/.exec(html)?.[1]!.replaceAll('&amp;', '&');

/** Follows Next from `url` to the end (at most `limit` pages): the names in the order shown. */
async function walk(url: string, limit = 20): Promise<string[]> {
  const names: string[] = [];
  let pages = 0;
  for (let next: string | undefined = url; next; pages++) {
    if (pages === limit) throw new Error(`still paging after ${limit} pages from ${url}`);
    const page = await admin.get(next);
    expect(page.statusCode, next).toBe(200);
    names.push(...namesIn(page.body));
    next = nextOf(page.body);
  }
  expect(pages, `pages from ${url}`).toBeGreaterThan(1);
  return names;
}

describe('keyset cursors', () => {
  it('get_users streams every user exactly once and ends, each user the last of its batch', async () => {
    const key = await insertApiKey(t.handle.db, { permissions: ['users_view'] });
    // Read as a stream with a cap: a cursor that repeats a user forever must fail here, not hang.
    const response = await t.app.inject({
      method: 'POST',
      url: '/api/public/get_users',
      payload: { api_key: key.key, api_key_secret: key.secret },
      payloadAsStream: true,
    });
    let text = '';
    for await (const chunk of response.stream() as Readable) {
      text += String(chunk);
      if (text.length > 1_000_000) throw new Error('get_users does not end');
    }
    const streamed = (JSON.parse(text) as { users: Array<{ username: string }> }).users.map((u) => u.username);
    expect(streamed.slice().sort()).toEqual(await everyone());
    expect(new Set(streamed).size).toBe(streamed.length);
    // The paged form agrees.
    const paged = await callApi(t.app, key, 'get_users', { page: 1, page_size: 1000 });
    expect(paged.json().users.map((u: { username: string }) => u.username)).toEqual(streamed);
  });

  it('the users list pages through everyone exactly once, whichever user ends a page', async () => {
    for (let shift = 0; shift < 25; shift++) {
      const expected = await everyone();
      for (const query of ['sort=username', 'sort=username&dir=desc', 'sort=first_name']) {
        const names = await walk(`/admin/users?${query}`);
        expect(names.slice().sort(), `${query}, shift ${shift}`).toEqual(expected);
      }
      await addFiller();
    }
  });

  it("a group's members page through exactly once, whichever member ends a page", async () => {
    const group = await createGroup(t.handle.db, { name: 'Keyset team' });
    const members = await t.handle.db.select({ id: users.id, username: users.username }).from(users);
    await t.handle.db.insert(userGroups).values(members.map((u) => ({ userId: u.id, groupId: group!.id })));
    const expected = members.map((u) => u.username);
    for (let shift = 0; shift < MEMBERS_PER_PAGE; shift++) {
      const names = await walk(`/admin/groups/${group!.id}`);
      expect(names.slice().sort(), `shift ${shift}`).toEqual(expected.slice().sort());
      const filler = await addFiller();
      await t.handle.db.insert(userGroups).values({ userId: filler.id, groupId: group!.id });
      expected.push(filler.username);
    }
  });
});
