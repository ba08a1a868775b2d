// The users list's daily tools: filters by realm, status and group (with the search, kept in
// links), the per-page control, Last Session sorted with never-logged-in users last, and a page
// past the end going to the last page.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groups, userGroups, users } from '../../src/db/schema.js';
import { TestClient } from '../helpers/client.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());

/** User names in the table of a list page, in order. */
const namesIn = (html: string) => [...html.matchAll(/<td><a href="\/admin\/users\/[0-9a-f-]+">([^<]+)<\/a><\/td>/g)].map((m) => m[1]);

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
    const [team] = await db.insert(groups).values({ name: 'Filter team', priority: 444 }).returning();
    await db.insert(userGroups).values(rows.filter((u) => ['flt-ben', 'flt-dan', 'other-eve'].includes(u.username)).map((u) => ({ userId: u.id, groupId: team!.id })));

    expect(namesIn((await admin.get('/admin/users?q=flt&realm=ldap')).body)).toEqual(['flt-ben', 'flt-cleo']);
    expect(namesIn((await admin.get('/admin/users?q=flt&status=locked')).body)).toEqual(['flt-cleo']);
    expect(namesIn((await admin.get('/admin/users?q=flt&status=disabled')).body)).toEqual(['flt-dan']);
    expect(namesIn((await admin.get('/admin/users?q=flt&status=active&realm=&group=')).body)).toEqual(['flt-anna', 'flt-ben']);
    const inGroup = await admin.get(`/admin/users?group=${team!.id}&realm=ldap`);
    expect(namesIn(inGroup.body)).toEqual(['flt-ben', 'other-eve']);
    expect(inGroup.body).toContain(`<option value="${team!.id}" selected>Filter team</option>`);
    // Sort links carry the filters.
    expect(inGroup.body).toContain(`sort=first_name&amp;realm=ldap&amp;group=${team!.id}`);
    expect((await admin.get('/admin/users?status=asleep')).statusCode).toBe(400);
  });

  it('pages 25, 50 or 100 at a time, and a page past the end goes to the last page', async () => {
    await t.handle.db.insert(users).values(Array.from({ length: 60 }, (_, i) => ({ username: `pp-${String(i).padStart(2, '0')}` })));
    const page = await admin.get('/admin/users?q=pp-&per_page=50');
    expect(namesIn(page.body)).toHaveLength(50);
    expect(page.body).toContain('<option value="50" selected>50</option>');
    expect(page.body).toContain('Page 1 of 2');
    expect(namesIn((await admin.get('/admin/users?q=pp-&per_page=50&page=2')).body)).toHaveLength(10);
    const past = await admin.get('/admin/users?q=pp-&per_page=50&page=999');
    expect(past.statusCode).toBe(303);
    expect(past.headers.location).toBe('/admin/users?q=pp-&page=2&per_page=50');
  });

  it('sorts Last Session with never-logged-in users last, in both directions', async () => {
    const db = t.handle.db;
    await db.insert(users).values([
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
