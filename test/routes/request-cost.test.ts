// What a logged-in page costs before its own work: one statement, the session read with its user
// (groups, permissions, theme). And the session row is not rewritten on each request.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupPermissions, groups, groupSettings, userGroups, userSettings } from '../../src/db/schema.js';
import { TestClient } from '../helpers/client.js';
import { fixtures } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;
let statements: string[] = [];

beforeAll(async () => {
  t = await createTestApp({}, { onQuery: (query) => statements.push(query) });
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { createUser } = fixtures(
  () => t,
  () => admin,
);

async function statementsOf(work: () => Promise<unknown>) {
  statements = [];
  await work();
  return statements;
}

describe('per-request cost', () => {
  it('a page with no queries of its own costs one statement: the session with its user (groups, permissions, theme)', async () => {
    const user = await createUser('cost-user');
    const client = new TestClient(t.app);
    await client.login(user.username, USER_PASSWORD);
    await client.get('/'); // the first page may touch the session (idle timer)
    const seen = await statementsOf(() => client.get('/'));
    expect(seen, seen.join('\n')).toHaveLength(1);
    expect(seen.filter((query) => /^(insert|update)/i.test(query))).toEqual([]); // no session write
  });

  it("a search of the users list is one statement of its own, with its count, beside the group filter's choices", async () => {
    await createUser('cost-search-one');
    await createUser('cost-search-two');
    await admin.get('/admin/users?q=cost-search');
    const seen = await statementsOf(() => admin.get('/admin/users?q=cost-search'));
    expect(seen, seen.join('\n')).toHaveLength(3); // session with user, the page with its count, the groups
    expect((await admin.get('/admin/users?q=cost-search')).body).toContain('2 users matching');
    // The rows htmx swaps in as you type need no group choices.
    const typed = await statementsOf(() => admin.get('/admin/users?q=cost-search', { 'hx-request': 'true' }));
    expect(typed, typed.join('\n')).toHaveLength(2);
  });

  it('a group page costs the same statements for a group of 1 as for a group of 60', async () => {
    const statementsOfGroupPage = async (size: number) => {
      const [group] = await t.handle.db
        .insert(groups)
        .values({ name: `Cost ${size}`, priority: 400 + size })
        .returning();
      for (let i = 0; i < size; i++) {
        const member = await createUser(`cost-${size}-${i}`);
        await t.handle.db.insert(userGroups).values({ userId: member.id, groupId: group!.id });
      }
      await admin.get(`/admin/groups/${group!.id}`);
      return (await statementsOf(() => admin.get(`/admin/groups/${group!.id}`))).length;
    };
    const one = await statementsOfGroupPage(1);
    expect(await statementsOfGroupPage(60)).toBe(one);
    // Session with user, group, members with their count, settings, permissions, workspaces,
    // file mappings, SSO group mappings with the providers, users outside the group (counted,
    // then listed when fewer than 50).
    expect(one).toBeLessThanOrEqual(10);
  });

  it('sees a change of theme, group or permission on the very next request', async () => {
    const user = await createUser('cost-changes');
    const client = new TestClient(t.app);
    await client.login(user.username, USER_PASSWORD);
    expect((await client.get('/')).body).toContain('data-theme="auto"');
    const [group] = await t.handle.db.insert(groups).values({ name: 'Cost group', priority: 321 }).returning();
    await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: group!.id });
    await t.handle.db.insert(groupSettings).values({ groupId: group!.id, key: 'theme', value: 'Dark' });
    expect((await client.get('/')).body).toContain('data-theme="dark"');
    await t.handle.db.insert(userSettings).values({ userId: user.id, key: 'theme', value: 'Light' });
    expect((await client.get('/')).body).toContain('data-theme="light"');
    expect((await client.get('/admin/audit')).statusCode).toBe(403);
    await t.handle.db.insert(groupPermissions).values({ groupId: group!.id, permission: 'audit_view' });
    expect((await client.get('/admin/audit')).statusCode).toBe(200);
    await t.handle.db.delete(groupPermissions).where(eq(groupPermissions.groupId, group!.id));
    expect((await client.get('/admin/audit')).statusCode).toBe(403);
  });
});
