// The users list's daily tools: filters by realm, status and group (with the search, kept in
// links), the per-page control, Last Session sorted with never-logged-in users last, and a page
// past the end going to the last page.
import { eq, sql } from 'drizzle-orm';
import { USER_SORT_KEYS } from '../../src/schemas/users.js';
import { sortExpression } from '../../src/users/users-queries.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userGroups, users } from '../../src/db/schema.js';
import { TestClient } from '../helpers/client.js';
import { elements, expectElement, expectLeadingElement, innerHtml } from '../helpers/html.js';
import { createGroup, seedUser } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());

/** User names in the table of a list page, in order. */
const namesIn = (html: string) =>
  [...html.matchAll(/<td><a href="\/admin\/users\/[0-9a-f-]+">([^<]+)<\/a><\/td>/g)].map((m) => m[1]);

describe('users list tools', () => {
  it('filters by realm, status and group, combined with the search, and keeps them in its links', async () => {
    const db = t.handle.db;
    const rows = await db
      .insert(users)
      .values([
        { username: 'flt-anna', realm: 'local' },
        { username: 'flt-ben', realm: 'ldap' },
        { username: 'flt-cleo', realm: 'ldap', locked: true },
        { username: 'flt-dan', realm: 'local', disabled: true },
        { username: 'other-eve', realm: 'ldap' },
      ])
      .returning();
    const team = await createGroup(db, { name: 'Filter team' });
    await db
      .insert(userGroups)
      .values(
        rows
          .filter((u) => ['flt-ben', 'flt-dan', 'other-eve'].includes(u.username))
          .map((u) => ({ userId: u.id, groupId: team!.id })),
      );

    expect(namesIn((await admin.get('/admin/users?q=flt&realm=ldap')).body)).toEqual(['flt-ben', 'flt-cleo']);
    expect(namesIn((await admin.get('/admin/users?q=flt&status=locked')).body)).toEqual(['flt-cleo']);
    expect(namesIn((await admin.get('/admin/users?q=flt&status=disabled')).body)).toEqual(['flt-dan']);
    expect(namesIn((await admin.get('/admin/users?q=flt&status=active&realm=&group=')).body)).toEqual([
      'flt-anna',
      'flt-ben',
    ]);
    const inGroup = await admin.get(`/admin/users?group=${team!.id}&realm=ldap`);
    expect(namesIn(inGroup.body)).toEqual(['flt-ben', 'other-eve']);
    expectElement(inGroup.body, 'option', { value: team!.id, selected: true }, { only: true, text: 'Filter team' });
    // Sort links carry the filters.
    expect(inGroup.body).toContain(`sort=first_name&amp;realm=ldap&amp;group=${team!.id}`);
    expect((await admin.get('/admin/users?status=asleep')).statusCode).toBe(400);
  });

  it('pages 25, 50 or 100 at a time, and a page past the end goes to the last page', async () => {
    await t.handle.db
      .insert(users)
      .values(Array.from({ length: 60 }, (_, i) => ({ username: `pp-${String(i).padStart(2, '0')}` })));
    const page = await admin.get('/admin/users?q=pp-&per_page=50');
    expect(namesIn(page.body)).toHaveLength(50);
    expectElement(page.body, 'option', { value: '50', selected: true }, { only: true, text: '50' });
    expect(page.body).toContain('Page 1 of 2');
    expect(namesIn((await admin.get('/admin/users?q=pp-&per_page=50&page=2')).body)).toHaveLength(10);
    const past = await admin.get('/admin/users?q=pp-&per_page=50&page=999');
    expect(past.statusCode).toBe(303);
    expect(past.headers.location).toBe('/admin/users?q=pp-&page=2&per_page=50');
  });

  it('sorts Last Session with never-logged-in users last, in both directions', async () => {
    const db = t.handle.db;
    await db
      .insert(users)
      .values([
        { username: 'ls-never' },
        { username: 'ls-old', lastSession: new Date('2025-01-01T00:00:00Z') },
        { username: 'ls-new', lastSession: new Date('2026-06-01T00:00:00Z') },
      ]);
    const asc = namesIn((await admin.get('/admin/users?q=ls-&sort=last_session&dir=asc')).body);
    const desc = namesIn((await admin.get('/admin/users?q=ls-&sort=last_session&dir=desc')).body);
    expect(asc).toEqual(['ls-old', 'ls-new', 'ls-never']);
    expect(desc).toEqual(['ls-new', 'ls-old', 'ls-never']);
    expect((await db.select().from(users).where(eq(users.username, 'ls-never')))[0]!.lastSession).toBeNull();
  });
});

describe('keyset paging', () => {
  it('Next continues after the last row shown even when rows are added between pages; Previous goes back', async () => {
    const db = t.handle.db;
    await db
      .insert(users)
      .values(Array.from({ length: 60 }, (_, i) => ({ username: `ks-${String(i * 2).padStart(3, '0')}` })));
    const first = await admin.get('/admin/users?q=ks-');
    const page1 = namesIn(first.body);
    expect(page1[0]).toBe('ks-000');
    expect(page1.at(-1)).toBe('ks-048');
    const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.body)![1]!.replaceAll('&amp;', '&');
    expect(next).toMatch(/page=2&.*after=/);
    // Someone adds users that sort before and after the cursor.
    await db.insert(users).values([{ username: 'ks-001' }, { username: 'ks-049' }]);
    const second = await admin.get(next);
    expect(namesIn(second.body)[0]).toBe('ks-049'); // right after ks-048: nothing repeated, nothing skipped
    expect(second.body).toContain('Page 2 of');
    const previous = /href="([^"]+)"[^>]*rel="prev"/.exec(second.body)![1]!.replaceAll('&amp;', '&');
    expect(namesIn((await admin.get(previous)).body)).toContain('ks-001');
    // Descending, and a cursor from a deeper page walking back.
    const desc = await admin.get('/admin/users?q=ks-&dir=desc');
    const nextDesc = /href="([^"]+)"[^>]*rel="next"/.exec(desc.body)![1]!.replaceAll('&amp;', '&');
    const page2Desc = await admin.get(nextDesc);
    expect(namesIn(page2Desc.body)[0]! < namesIn(desc.body).at(-1)!).toBe(true);
    const back = /href="([^"]+)"[^>]*rel="prev"/.exec(page2Desc.body)![1]!.replaceAll('&amp;', '&');
    expect(namesIn((await admin.get(back)).body)).toEqual(namesIn(desc.body));
    // A cursor that is not ours is ignored (the page number applies), never a 500.
    expect((await admin.get('/admin/users?q=ks-&page=2&after=bm90LWEtY3Vyc29y')).statusCode).toBe(200);
  });

  it('pages by Last Session with a cursor across the never-logged-in users', async () => {
    const db = t.handle.db;
    await db.insert(users).values([
      ...Array.from({ length: 20 }, (_, i) => ({
        username: `kl-seen-${i}`,
        lastSession: new Date(Date.UTC(2026, 0, 1 + i)),
      })),
      ...Array.from({ length: 20 }, (_, i) => ({ username: `kl-never-${i}` })),
    ]);
    for (const dir of ['asc', 'desc']) {
      const first = await admin.get(`/admin/users?q=kl-&sort=last_session&dir=${dir}`);
      const next = /href="([^"]+)"[^>]*rel="next"/.exec(first.body)![1]!.replaceAll('&amp;', '&');
      const all = [...namesIn(first.body), ...namesIn((await admin.get(next)).body)];
      expect(new Set(all).size).toBe(40);
      expect(all.slice(20).every((name) => name!.startsWith('kl-never'))).toBe(true);
    }
  });
});

describe('indexes', () => {
  it('serve every sort of the users list in both directions (no sort of the whole table)', async () => {
    const { seedUsers } = await import('../../bench/seed.js');
    await seedUsers(t.handle.db, 5_000);
    await t.handle.db.execute(sql`analyze users`);
    for (const sort of USER_SORT_KEYS) {
      for (const direction of ['asc', 'desc'] as const) {
        const expression = sortExpression(sort, direction);
        const order = sql.raw(direction);
        const result = await t.handle.db.execute(
          sql`explain select ${users.id} from ${users} order by ${expression} ${order}, ${users.id} ${order} limit 26`,
        );
        const rows = ((result as unknown as { rows?: unknown[] }).rows ?? (result as unknown as unknown[])) as Array<
          Record<string, string>
        >;
        const plan = rows.map((row) => Object.values(row)[0]).join('\n');
        expect(plan, `${sort} ${direction}:\n${plan}`).toMatch(/Index (Only )?Scan/);
        expect(plan, `${sort} ${direction}:\n${plan}`).not.toMatch(/Seq Scan/);
      }
    }
  });
});

describe('short search terms', () => {
  it('find user names by prefix for one or two characters, anywhere for three or more', async () => {
    await t.handle.db
      .insert(users)
      .values([{ username: 'qz-first' }, { username: 'Qz-second' }, { username: 'xqz-inside' }, { username: 'q%z' }]);
    expect(namesIn((await admin.get('/admin/users?q=qz')).body)).toEqual(['qz-first', 'Qz-second']);
    expect(namesIn((await admin.get('/admin/users?q=q')).body)).toEqual(
      expect.arrayContaining(['qz-first', 'Qz-second', 'q%z']),
    );
    expect(namesIn((await admin.get('/admin/users?q=q%25')).body)).toEqual(['q%z']); // wildcards are literal
    expect(namesIn((await admin.get('/admin/users?q=qz-')).body)).toEqual(['qz-first', 'Qz-second', 'xqz-inside']);
  });
});

/** The value of the filter form's hidden field `name` (it sits outside the form, tied to it by form=). */
function hiddenFilterField(html: string, name: string): string | undefined {
  return elements(html, 'input', { type: 'hidden', name, value: /[^"]+/, form: 'users-filter' }, { only: true })[0]
    ?.attributes.value;
}

/** What a list answer shows of the list's state: the sort the filter form sends, the sorted column, the count, the page. */
function stateOf(html: string) {
  return {
    sort: hiddenFilterField(html, 'sort'),
    dir: hiddenFilterField(html, 'dir'),
    sorted: elements(html, 'th', { scope: 'col', 'aria-sort': /\w+/ }, { only: true }).map((th) => {
      const inside = innerHtml(html, th);
      const link = expectLeadingElement(inside, 'a', {}, { leadingSpace: true });
      return `${inside.slice(link.end).split('<')[0]!.trim()} ${th.attributes['aria-sort']}`;
    }),
    count: elements(html, 'p', { class: 'count', id: 'users-count' }, { only: true }).map((p) => innerHtml(html, p))[0],
    page: /Page (\d+) of/.exec(html)?.[1] ?? '1',
  };
}

describe('the table section, one state in one place', () => {
  it('answers every htmx interaction — sort, search, filter, page, delete and log out in place — with the whole section a fresh load shows', async () => {
    const db = t.handle.db;
    const made = await db
      .insert(users)
      .values(
        Array.from({ length: 30 }, (_, i) => ({
          username: `sec-${String(i).padStart(2, '0')}`,
          email: `z${i}@example.com`,
          locked: i % 2 === 0,
        })),
      )
      .returning();
    const victim = made.find((u) => u.username === 'sec-05')!;
    const other = made.find((u) => u.username === 'sec-07')!;
    const query = 'q=sec-&sort=email&dir=desc&status=&per_page=25';
    const cases: Array<[string, () => Promise<{ statusCode: number; body: string }>, string]> = [
      ['sort', () => admin.get(`/admin/users?${query}`, { 'hx-request': 'true' }), query],
      [
        'search',
        () => admin.get(`/admin/users?q=sec-1&sort=email&dir=desc`, { 'hx-request': 'true' }),
        'q=sec-1&sort=email&dir=desc',
      ],
      [
        'filter',
        () => admin.get(`/admin/users?q=sec-&sort=email&dir=desc&status=locked`, { 'hx-request': 'true' }),
        'q=sec-&sort=email&dir=desc&status=locked',
      ],
      [
        'page',
        () => admin.get(`/admin/users?q=sec-&sort=email&dir=desc&page=2`, { 'hx-request': 'true' }),
        'q=sec-&sort=email&dir=desc&page=2',
      ],
      [
        'delete in place',
        () => admin.post(`/admin/users/${victim.id}/delete?${query}`, {}, { 'hx-request': 'true' }),
        query,
      ],
      [
        'log out in place',
        () => admin.post(`/admin/users/${other.id}/logout?${query}`, { confirm: 'yes' }, { 'hx-request': 'true' }),
        query,
      ],
    ];
    await admin.get('/admin/users');
    for (const [name, answer, address] of cases) {
      const section = await answer();
      expect(section.statusCode, name).toBe(200);
      expect(section.body, name).not.toContain('<html');
      // What the same address shows when loaded afresh, without the action's message.
      const fresh = await admin.get(`/admin/users?${address}`);
      expect(stateOf(section.body), name).toEqual(stateOf(fresh.body));
      expect(namesIn(section.body), name).toEqual(namesIn(fresh.body));
      expect(stateOf(section.body).sorted, name).toEqual(['Email descending']);
    }
  });

  it('deletes in place: the count drops, the message is in the section, and an emptied last page shows the one before', async () => {
    const db = t.handle.db;
    const made = await db
      .insert(users)
      .values(Array.from({ length: 26 }, (_, i) => ({ username: `dip-${String(i).padStart(2, '0')}` })))
      .returning();
    await admin.get('/admin/users');
    const last = made.at(-1)!;
    const answer = await admin.post(`/admin/users/${last.id}/delete?q=dip-&page=2`, {}, { 'hx-request': 'true' });
    expect(answer.statusCode).toBe(200);
    expect(stateOf(answer.body).count).toBe('25 users matching “dip-”');
    expect(stateOf(answer.body).page).toBe('1');
    expect(answer.headers['hx-replace-url']).toBe('/admin/users?q=dip-');
    expectElement(
      answer.body,
      'p',
      { class: 'flash flash-success', role: 'status' },
      { only: true, text: 'User dip-25 deleted.' },
    );
    // Without JavaScript: the confirm page, then the list with the message in its section.
    const confirm = await admin.get(`/admin/users/${made[0]!.id}/delete`);
    expect(confirm.body).toContain('Delete user dip-00?');
    const plain = await admin.post(`/admin/users/${made[0]!.id}/delete`);
    expect(plain.headers.location).toBe('/admin/users#users-table');
    const list = (await admin.get('/admin/users?q=dip-')).body;
    expect(list.indexOf('User dip-00 deleted.')).toBeGreaterThan(list.indexOf('<div id="users-table">'));
    expect(list.match(/User dip-00 deleted\./g)).toHaveLength(1); // not at the top as well
  });

  it('confirms Log Out from a row on a page of its own, and logs out in place with htmx', async () => {
    const user = await seedUser(t.handle.db, 'logout-lena', USER_PASSWORD);
    const lena = new TestClient(t.app);
    await lena.login('logout-lena', USER_PASSWORD);
    expect((await lena.get('/profile')).statusCode).toBe(200);
    const confirm = await admin.get(`/admin/users/${user.id}/logout`);
    expect(confirm.body).toContain('Log out logout-lena everywhere?');
    expect(confirm.body).toContain(`action="/admin/users/${user.id}/logout"`);
    expect((await lena.get('/profile')).statusCode).toBe(200); // the GET changes nothing
    const answer = await admin.post(
      `/admin/users/${user.id}/logout?q=logout-`,
      { confirm: 'yes' },
      { 'hx-request': 'true' },
    );
    expect(answer.body).toContain('role="status">logout-lena was logged out everywhere (1 session).</p>');
    expect(namesIn(answer.body)).toEqual(['logout-lena']);
    expect((await lena.get('/profile')).headers.location).toMatch(/^\/login/);
  });

  it('keeps every row under 600 bytes with all its actions, as plain links to their confirm pages', async () => {
    await t.handle.db.insert(users).values(
      Array.from({ length: 25 }, (_, i) => ({
        username: `weight-user-${i}`,
        firstName: 'Elizabeth',
        lastName: 'Rodriguez',
        organization: 'Acme Corp',
        email: `weight.user.${i}@example.com`,
        lastSession: new Date('2026-01-02T03:04:00Z'),
        locked: i % 2 === 0,
      })),
    );
    const page = (await admin.get('/admin/users?q=weight-user')).body;
    const rows = [...page.matchAll(/<tr><td><a href="\/admin\/users\/[^"]+">weight-user[\s\S]*?<\/tr>/g)].map(
      (m) => m[0],
    );
    expect(rows).toHaveLength(25);
    for (const row of rows) {
      expect(Buffer.byteLength(row), row).toBeLessThan(600);
      expect(row).not.toContain('<form');
      expect(row).not.toContain('_csrf');
      expect(row).toMatch(
        /<a href="\/admin\/users\/[^"]+\/logout">Log Out<\/a><a href="\/admin\/users\/[^"]+\/delete">Delete<\/a>/,
      );
      expectElement(row, 'details', { class: 'menu', name: 'row' }, { only: true }); // one open at a time, without script too
    }
  });

  it('says Last Session the same way in the list and on the user page', async () => {
    const [never, seen] = await t.handle.db
      .insert(users)
      .values([{ username: 'lsw-never' }, { username: 'lsw-seen', lastSession: new Date('2026-02-03T04:05:00Z') }])
      .returning();
    const list = (await admin.get('/admin/users?q=lsw-')).body;
    for (const [user, words] of [
      [never!, 'Never'],
      [seen!, '2026-02-03 04:05 UTC'],
    ] as const) {
      expect(list).toMatch(new RegExp(`>${user.username}</a></td>(<td>[^<]*){5}<td>${words}<td>`));
      expect((await admin.get(`/admin/users/${user.id}`)).body).toContain(`<dd id="last-session">${words}</dd>`);
    }
  });
});
