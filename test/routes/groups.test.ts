import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, groupPermissions, groups, groupSettings, userGroups, users } from '../../src/db/schema.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { elements, expectElement, innerHtml } from '../helpers/html.js';
import { createGroup, fixtures, loggedInClient } from '../helpers/factories.js';

let t: TestApp;
let admin: TestClient;
const PASSWORD = USER_PASSWORD;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { createUser, createGroupThroughForm, lastAudit } = fixtures(
  () => t,
  () => admin,
);

async function groupNamed(name: string) {
  return (await t.handle.db.select().from(groups).where(eq(groups.name, name)))[0];
}

let worlds = 0;

/**
 * What most tests here need, made fresh for each: a group "Engineering N" and two users of its
 * own (not yet members), so that no test depends on another.
 */
async function world() {
  const n = ++worlds;
  const engineering = await createGroupThroughForm(`Engineering ${n}`, { description: 'Builds things' });
  const grace = await createUser(`grace.hopper.${n}`, { first_name: 'Grace', last_name: 'Hopper' });
  const alan = await createUser(`alan.turing.${n}`);
  return { engineering, grace, alan };
}

/** Enough users that every group has 50 or more outside it (the picker then searches). */
const manyUsers = () =>
  t.handle.db
    .insert(users)
    .values(Array.from({ length: 60 }, (_, i) => ({ username: `filler-${i}` })))
    .onConflictDoNothing();

const join = (userId: string, groupId: string) => t.handle.db.insert(userGroups).values({ userId, groupId });

/** A logged-in user whose only powers are `permissions` (through a group of their own). */
async function clientWith(username: string, permissions: string[]) {
  const user = await createUser(username);
  const group = await createGroup(t.handle.db, { name: `${username}-powers`, permissions });
  await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: group.id });
  const client = await loggedInClient(t.app, username);
  return { client, user, group };
}

describe('groups table and pages', () => {
  it("pages a large group's members with cursors: Next and Previous stay exact under inserts", async () => {
    const db = t.handle.db;
    const { engineering } = await world();
    const created = await db
      .insert(users)
      .values(Array.from({ length: 60 }, (_, i) => ({ username: `mem-${String(i * 2).padStart(3, '0')}` })))
      .returning();
    await db.insert(userGroups).values(created.map((user) => ({ userId: user.id, groupId: engineering.id })));
    const names = (html: string) =>
      [...html.matchAll(/<td><a href="\/admin\/users\/[0-9a-f-]+">(mem-\d+)<\/a>/g)].map((m) => m[1]);
    const link = (html: string, rel: string) =>
      new RegExp(`href="([^"]+)"[^>]*rel="${rel}"`).exec(html)![1]!.replaceAll('&amp;', '&');
    const first = await admin.get(`/admin/groups/${engineering.id}`);
    expect(names(first.body)).toHaveLength(25);
    expect(first.body).toContain('Page 1 of 3');
    const [early] = await db.insert(users).values({ username: 'mem-001' }).returning();
    await db.insert(userGroups).values({ userId: early!.id, groupId: engineering.id });
    const second = await admin.get(link(first.body, 'next'));
    expect(names(second.body)[0]).toBe('mem-050'); // right after page 1's last (mem-048)
    const third = await admin.get(link(second.body, 'next'));
    expect(names(third.body)).toEqual(
      Array.from({ length: 10 }, (_, i) => `mem-${String(100 + i * 2).padStart(3, '0')}`),
    );
    expect(third.body).not.toContain('rel="next"');
    expect(names((await admin.get(link(third.body, 'prev'))).body)).toEqual(names(second.body));
  });

  it('offers every user outside a small group in a select, with an explained search for larger ones', async () => {
    const db = t.handle.db;
    // A database of its own: how many users exist decides the picker's form.
    const small = await createTestApp();
    try {
      const smallAdmin = await new TestClient(small.app).loginAsFirstAdmin();
      const id = await smallAdmin.addUser('only-candidate');
      await smallAdmin.get('/admin/groups/new');
      const created = await smallAdmin.post('/admin/groups', { name: 'Tiny', priority: '5' });
      const groupUrl = created.headers.location!;
      const page = await smallAdmin.get(groupUrl);
      expect(page.body).toContain('<label for="add-member">User</label>');
      expect(page.body).toContain(`<option value="${id}">only-candidate</option>`);
      expect(page.body).not.toContain('Find user');
      const added = await smallAdmin.post(`${groupUrl}/members`, { user_id: id }, { 'hx-request': 'true' });
      expect(added.body).toMatch(/^\s*<section id="members"/); // the whole section, its picker fresh
      expect(added.body).not.toContain(`<option value="${id}">`); // the select no longer offers them
      // The boundary: 49 users outside still fit the select, 50 make it a search.
      // Outside the group: the admin and these 48 (only-candidate is now a member).
      await small.handle.db.insert(users).values(Array.from({ length: 48 }, (_, i) => ({ username: `edge-${i}` })));
      expect((await smallAdmin.get(groupUrl)).body).toContain('<label for="add-member">User</label>');
      await small.handle.db.insert(users).values({ username: 'edge-fiftieth' });
      expect((await smallAdmin.get(groupUrl)).body).toContain('Find user');
      // Everyone is in All Users: its page offers no one to add.
      const [allUsers] = await small.handle.db.select().from(groups).where(eq(groups.systemKey, 'all_users'));
      const everyone = await smallAdmin.get(`/admin/groups/${allUsers!.id}`);
      expect(everyone.statusCode).toBe(200);
      expect(everyone.body).not.toContain('<h3>Add User</h3>');
    } finally {
      await small.close();
    }
    await manyUsers();
    const { engineering } = await world();
    const large = await admin.get(`/admin/groups/${engineering.id}`);
    expect(large.body).toContain('Find user');
    expect(large.body).toContain('Type part of a user name, first or last name, or email');
    expect(await db.select().from(users).where(eq(users.username, 'filler-1'))).toHaveLength(1);
  });

  it('lists groups with priority, description and member count, sortable', async () => {
    const { engineering } = await world();
    const page = await admin.get('/admin/groups');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('href="/admin/groups/new">Add Group</a>');
    expect(page.body).toMatch(/Administrators<\/a> <span class="badge badge-info">System<\/span><\/td>\s*<td>1<\/td>/);
    expect(page.body).toMatch(
      new RegExp(
        `${engineering.name}</a></td>\\s*<td>${engineering.priority}</td>\\s*<td>Builds things</td>\\s*<td>0</td>`,
      ),
    );
    expect(page.body).toContain(`<summary aria-label="Actions for ${engineering.name}">`);
    const byName = (await admin.get('/admin/groups?sort=name&dir=desc')).body;
    expect(byName.indexOf(`>${engineering.name}<`)).toBeLessThan(byName.indexOf('>Administrators<'));
  });

  it('shows clear field errors for bad or clashing name and priority', async () => {
    const { engineering } = await world();
    await admin.get('/admin/groups/new');
    const bad = await admin.post('/admin/groups', { name: '', priority: 'abc' });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('Name is required.');
    expect(bad.body).toContain('Priority must be a whole number from 1 to 1000');
    const clashPriority = await admin.post('/admin/groups', { name: 'Sales', priority: String(engineering.priority) });
    expect(clashPriority.statusCode).toBe(409);
    expect(clashPriority.body).toContain(
      `Priority ${engineering.priority} is already used by group ${engineering.name}`,
    );
    expect(clashPriority.body).toContain('value="Sales"');
    const clashName = await admin.post('/admin/groups', { name: engineering.name.toUpperCase(), priority: '999' });
    expect(clashName.body).toContain('A group with this name already exists.');
    expect(await groupNamed('Sales')).toBeUndefined();
  });

  it('lists every error of Add Group at once in a summary first in the page, linked to each field and taking the focus', async () => {
    const { engineering } = await world();
    await admin.get('/admin/groups/new');
    const summary = (html: string) => {
      const [div] = elements(html, 'div', {
        class: 'flash flash-error error-summary',
        role: 'alert',
        tabindex: '-1',
        autofocus: true,
      });
      return div ? innerHtml(html, div) : '';
    };
    const bad = await admin.post('/admin/groups', { name: '', priority: 'abc', description: 'x'.repeat(10_001) });
    expect(bad.statusCode).toBe(422);
    expect(summary(bad.body)).toContain('There are 3 problems');
    for (const [field, message] of [
      ['name', 'Name is required.'],
      ['priority', 'Priority must be a whole number'],
      ['description', 'Description must be at most 10,000 characters.'],
    ]) {
      expect(summary(bad.body)).toMatch(new RegExp(`<a href="#f-${field}">${message}`));
    }
    // Before the heading: the first thing in <main> after the alert region.
    expect(bad.body.indexOf('error-summary')).toBeLessThan(bad.body.indexOf('<h1>Add Group</h1>'));
    // Both clashes at once, too.
    const clash = await admin.post('/admin/groups', { name: engineering.name, priority: String(engineering.priority) });
    expect(clash.statusCode).toBe(409);
    expect(summary(clash.body)).toContain('There are 2 problems');
    expect(summary(clash.body)).toContain('<a href="#f-name">A group with this name already exists.</a>');
    expect(summary(clash.body)).toContain(
      `<a href="#f-priority">Priority ${engineering.priority} is already used by group ${engineering.name}`,
    );
    expectElement(
      clash.body,
      'p',
      { class: 'error', id: 'e-name' },
      { only: true, text: 'A group with this name already exists.' },
    );
  });

  it('edits a group and refuses to rename or delete a system group', async () => {
    const { engineering } = await world();
    await admin.get(`/admin/groups/${engineering.id}`);
    const saved = await admin.post(`/admin/groups/${engineering.id}`, {
      name: engineering.name,
      priority: String(engineering.priority),
      description: 'Builds and runs things',
    });
    expect(saved.statusCode).toBe(303);
    expect((await groupNamed(engineering.name))!.description).toBe('Builds and runs things');
    expect((await lastAudit('group_updated', engineering.id))!.details).toMatchObject({
      changes: { description: { old: 'Builds things', new: 'Builds and runs things' } },
    });

    const administrators = (await groupNamed('Administrators'))!;
    const rename = await admin.post(`/admin/groups/${administrators.id}`, { name: 'Admins', priority: '1' });
    expect(rename.statusCode).toBe(422);
    expect(rename.body).toContain('is a system group and cannot be renamed');
    expect((await admin.get(`/admin/groups/${administrators.id}/delete`)).statusCode).toBe(403);
    expect((await admin.post(`/admin/groups/${administrators.id}/delete`)).statusCode).toBe(403);
    expect((await groupNamed('Administrators'))!.name).toBe('Administrators');
  });

  it('duplicates a group with its settings and permissions, not its members', async () => {
    const { engineering, grace } = await world();
    await join(grace.id, engineering.id);
    await t.handle.db.insert(groupSettings).values({ groupId: engineering.id, key: 'max_kasms_per_user', value: 3 });
    await t.handle.db.insert(groupPermissions).values({ groupId: engineering.id, permission: 'users_view' });
    await admin.get('/admin/groups');
    const response = await admin.post(`/admin/groups/${engineering.id}/duplicate`);
    expect(response.statusCode).toBe(303);
    const copy = (await groupNamed(`Copy of ${engineering.name}`))!;
    expect(copy.priority).toBe(engineering.priority + 1); // the nearest free priority
    expect(copy.isSystem).toBe(false);
    expect(
      await t.handle.db
        .select({ key: groupSettings.key, value: groupSettings.value })
        .from(groupSettings)
        .where(eq(groupSettings.groupId, copy.id)),
    ).toEqual([{ key: 'max_kasms_per_user', value: 3 }]);
    expect(
      await t.handle.db
        .select({ p: groupPermissions.permission })
        .from(groupPermissions)
        .where(eq(groupPermissions.groupId, copy.id)),
    ).toEqual([{ p: 'users_view' }]);
    expect(await t.handle.db.select().from(userGroups).where(eq(userGroups.groupId, copy.id))).toHaveLength(0);
    await admin.post(`/admin/groups/${engineering.id}/duplicate`);
    expect((await groupNamed(`Copy of ${engineering.name} (2)`))!.priority).toBe(engineering.priority + 2);
  });

  it('deletes a group after a confirm step', async () => {
    const { engineering } = await world();
    const confirm = await admin.get(`/admin/groups/${engineering.id}/delete`);
    expect(confirm.body).toContain(`Delete group ${engineering.name}?`);
    expect(await groupNamed(engineering.name)).toBeDefined(); // the GET changes nothing
    expect((await admin.post(`/admin/groups/${engineering.id}/delete`)).statusCode).toBe(303);
    expect(await groupNamed(engineering.name)).toBeUndefined();
    expect((await lastAudit('group_deleted', engineering.id))!.targetName).toBe(engineering.name);
  });
});

describe('users in group', () => {
  it('finds users to add by search, never listing everyone, once 50 or more users are outside the group', async () => {
    await manyUsers();
    const { engineering, grace, alan } = await world();
    const member = await createUser(`member-of-${engineering.priority}`);
    await join(member.id, engineering.id);
    const page = await admin.get(`/admin/groups/${engineering.id}`);
    expect(page.body).toContain('<label for="user-q">Find user</label>');
    expect(page.body).not.toContain(`Add ${grace.username}`); // no list before a search
    const search = await admin.get(`/admin/groups/${engineering.id}?user_q=${grace.username.toUpperCase()}`);
    expect(search.body).toContain(`aria-label="Add ${grace.username}"`);
    expect(search.body).not.toContain(`aria-label="Add ${alan.username}"`);
    const fragment = await admin.get(`/admin/groups/${engineering.id}/user-suggestions?user_q=${alan.username}`, {
      'hx-request': 'true',
    });
    expect(fragment.body).not.toContain('<html');
    expect(fragment.body).toContain(`aria-label="Add ${alan.username}"`);
    // members already in the group are not offered
    expect((await admin.get(`/admin/groups/${engineering.id}?user_q=${member.username}`)).body).toContain(
      'No user matching',
    );
  });

  it('adds a member with a plain form and audits it', async () => {
    const { engineering, grace } = await world();
    await admin.get(`/admin/groups/${engineering.id}`);
    const response = await admin.post(`/admin/groups/${engineering.id}/members`, { user_id: grace.id });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe(`/admin/groups/${engineering.id}#members`);
    const page = await admin.get(`/admin/groups/${engineering.id}`);
    expect(page.body).toContain(`${grace.username} added to ${engineering.name}.`);
    expect(page.body).toMatch(
      new RegExp(`<tr id="member-[^"]+">\\s*<td><a href="/admin/users/[^"]+">${grace.username}</a>`),
    );
    expect((await lastAudit('group_member_added', engineering.id))!.details).toMatchObject({
      member: { name: grace.username },
    });
    const again = await admin.post(`/admin/groups/${engineering.id}/members`, { user_id: grace.id });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain(`${grace.username} is already a member of ${engineering.name}.`);
  });

  it('adds a member in place for htmx: the new row, the count and a reset picker', async () => {
    await manyUsers();
    const { engineering, grace, alan } = await world();
    await join(grace.id, engineering.id);
    await admin.get(`/admin/groups/${engineering.id}`);
    const response = await admin.post(
      `/admin/groups/${engineering.id}/members`,
      { user_id: alan.id },
      { 'hx-request': 'true' },
    );
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('<html');
    // The whole members section, as a fresh load gives it: rows with names, the count, the message, a fresh picker.
    expect(response.body).toMatch(/^\s*<section id="members"/);
    expect(response.body).not.toContain('hx-swap-oob');
    expect(response.body).toMatch(
      new RegExp(`<tr id="member-${alan.id}">\\s*<td><a href="/admin/users/${alan.id}">${alan.username}</a></td>`),
    );
    expect(response.body).toMatch(
      new RegExp(
        `<td><a href="/admin/users/${grace.id}">${grace.username}</a></td>\\s*<td>Grace</td>\\s*<td>Hopper</td>`,
      ),
    );
    expectElement(response.body, 'p', { id: 'member-count', class: 'count' }, { only: true, text: '2 members' });
    expectElement(
      response.body,
      'p',
      { class: 'flash flash-success', role: 'status' },
      { only: true, text: `${alan.username} added to ${engineering.name}.` },
    );
    // focus back on the search
    expectElement(response.body, 'input', { id: 'user-q', type: 'search', name: 'user_q', value: '', autofocus: true });
    expectElement(response.body, '*', { 'hx-target': '#members', 'hx-swap': 'outerHTML' });
  });

  it('removes a member in place, but never from All Users', async () => {
    const { engineering, grace, alan } = await world();
    await join(grace.id, engineering.id);
    await join(alan.id, engineering.id);
    await admin.get(`/admin/groups/${engineering.id}`);
    const response = await admin.post(
      `/admin/groups/${engineering.id}/members/${alan.id}/remove`,
      {},
      { 'hx-request': 'true' },
    );
    expect(response.statusCode).toBe(200);
    expect(response.body).toMatch(/^\s*<section id="members"/);
    expectElement(response.body, 'p', { id: 'member-count', class: 'count' }, { only: true, text: '1 member' });
    expect(response.body).toContain(`role="status">${alan.username} removed from ${engineering.name}.</p>`);
    expect(response.body).not.toContain(`href="/admin/users/${alan.id}"`);
    const picker = [
      ...elements(response.body, 'select', { id: 'add-member', autofocus: true }),
      ...elements(response.body, 'input', { id: 'user-q', autofocus: true }),
    ];
    expect(picker, 'a fresh picker, focused').not.toHaveLength(0);
    expect((await lastAudit('group_member_removed', engineering.id))!.details).toMatchObject({
      member: { name: alan.username },
    });

    const allUsers = (await groupNamed('All Users'))!;
    const refused = await admin.post(`/admin/groups/${allUsers.id}/members/${alan.id}/remove`);
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain('Every user is a member of All Users');
    const refusedHtmx = await admin.post(
      `/admin/groups/${allUsers.id}/members/${alan.id}/remove`,
      {},
      { 'hx-request': 'true' },
    );
    expect(refusedHtmx.statusCode).toBe(409);
    expect(refusedHtmx.body).toMatch(/^\s*<section id="members"/); // the message in the section
    expect(refusedHtmx.body).toContain('role="alert">Every user is a member of All Users');
  });

  it("manages groups from the user's page too", async () => {
    const { engineering, alan } = await world();
    const page = await admin.get(`/admin/users/${alan.id}`);
    expect(page.body).toContain('<label for="add-group">Add to group</label>');
    expect((await admin.post(`/admin/users/${alan.id}/groups`, { group_id: engineering.id })).statusCode).toBe(303);
    const after = await admin.get(`/admin/users/${alan.id}`);
    expect(after.body).toContain(`${alan.username} added to ${engineering.name}.`);
    expect(after.body).toContain(`aria-label="Remove from ${engineering.name}"`);
    expect(after.body).not.toContain('aria-label="Remove from All Users"');
    expect((await admin.post(`/admin/users/${alan.id}/groups/${engineering.id}/remove`)).statusCode).toBe(303);
    expect(
      await t.handle.db
        .select()
        .from(userGroups)
        .where(and(eq(userGroups.userId, alan.id), eq(userGroups.groupId, engineering.id))),
    ).toHaveLength(0);
  });

  it('preselects nothing in a select that confers a group (group picker and Add to group)', async () => {
    const { alan } = await world();
    const userPage = await admin.get(`/admin/users/${alan.id}`);
    const groupSelect = /<select id="add-group"[^>]*>([\s\S]*?)<\/select>/.exec(userPage.body)!;
    expect(groupSelect[0]).toContain('required');
    expect(/<option[^>]*>([^<]*)<\/option>/.exec(groupSelect[1]!)![1]).toBe('Choose a group…');
    expect(groupSelect[1]).toMatch(/<option value="">Choose a group…<\/option>/);
    expect(groupSelect[1]).not.toContain('selected');
    // Nothing chosen (a browser without `required`): a message, no membership.
    const none = await admin.post(`/admin/users/${alan.id}/groups`, { group_id: '' });
    expect(none.statusCode).toBe(422);
    expect(none.body).toContain('Choose a group to add the user to.');
    const small = await createTestApp();
    try {
      const smallAdmin = await new TestClient(small.app).loginAsFirstAdmin();
      await smallAdmin.addUser('picker-candidate');
      await smallAdmin.get('/admin/groups/new');
      const groupUrl = (await smallAdmin.post('/admin/groups', { name: 'Picker', priority: '5' })).headers.location!;
      const picker = /<select id="add-member"[^>]*>([\s\S]*?)<\/select>/.exec((await smallAdmin.get(groupUrl)).body)!;
      expect(picker[0]).toContain('required');
      expect(/<option[^>]*>([^<]*)<\/option>/.exec(picker[1]!)![1]).toBe('Choose a user…');
      expect(picker[1]).not.toContain('selected');
      const empty = await smallAdmin.post(`${groupUrl}/members`, { user_id: '' });
      expect(empty.statusCode).toBe(422);
      expect(empty.body).toContain('Pick a user to add.');
    } finally {
      await small.close();
    }
  });

  it.each([
    [
      'the user page',
      (user: { id: string }, group: { id: string }) => ({
        url: `/admin/users/${user.id}/groups`,
        form: { group_id: group.id },
      }),
    ],
    [
      'the group page',
      (user: { id: string }, group: { id: string }) => ({
        url: `/admin/groups/${group.id}/members`,
        form: { user_id: user.id },
      }),
    ],
  ])('asks to confirm before adding a user to a group granting global_admin, from %s', async (_from, request) => {
    const { alan } = await world();
    const administrators = (await groupNamed('Administrators'))!;
    const { url, form } = request(alan, administrators);
    await admin.get(`/admin/users/${alan.id}`);
    const asked = await admin.post(url, form);
    expect(asked.statusCode).toBe(200);
    expect(asked.body).toContain(`Make ${alan.username} an administrator?`);
    expect(asked.body).toContain('global_admin');
    expect(asked.body).toContain('name="confirm" value="yes"');
    expect(asked.body).toContain('Cancel');
    const isMember = async () =>
      (
        await t.handle.db
          .select()
          .from(userGroups)
          .where(and(eq(userGroups.userId, alan.id), eq(userGroups.groupId, administrators.id)))
      ).length > 0;
    expect(await isMember()).toBe(false);
    // The confirm page's own button.
    const confirmed = await admin.post(url, { ...form, confirm: 'yes' });
    expect(confirmed.statusCode).toBe(303);
    expect(await isMember()).toBe(true);
    await t.handle.db
      .delete(userGroups)
      .where(and(eq(userGroups.userId, alan.id), eq(userGroups.groupId, administrators.id)));
  });

  it("adds to an ordinary group at once, and its page adds in place (htmx) while Administrators' goes through the confirm page", async () => {
    const { engineering } = await world();
    await manyUsers();
    const ordinary = await admin.get(`/admin/groups/${engineering.id}?user_q=filler-1`);
    expectElement(ordinary.body, 'form', {
      method: 'post',
      action: /\/admin\/groups\/[^"]+\/members/,
      'hx-post': true,
    });
    const administrators = (await groupNamed('Administrators'))!;
    const admins = await admin.get(`/admin/groups/${administrators.id}?user_q=filler-1`);
    expect(admins.body).toContain(`action="/admin/groups/${administrators.id}/members"`);
    expect(admins.body).not.toContain(`hx-post="/admin/groups/${administrators.id}/members"`);
    const fragment = await admin.get(`/admin/groups/${administrators.id}/user-suggestions?user_q=filler-1`, {
      'hx-request': 'true',
    });
    expect(fragment.body).toContain('Add filler-1');
    expect(fragment.body).not.toContain('hx-post=');
  });

  it('adds local users to auto_add_local_users groups at creation and at login', async () => {
    const onboarding = await createGroupThroughForm('Onboarding');
    const existing = await createUser('before-auto-add');
    await admin.get(`/admin/groups/${onboarding.id}/settings/edit?key=auto_add_local_users`);
    expect(
      (await admin.post(`/admin/groups/${onboarding.id}/settings`, { key: 'auto_add_local_users', value: 'true' }))
        .statusCode,
    ).toBe(303);
    const created = await createUser('after-auto-add');
    const ldap = await createUser('ldap-auto', { realm: 'ldap', password: '' });
    const memberIds = async () =>
      (await t.handle.db.select().from(userGroups).where(eq(userGroups.groupId, onboarding.id))).map((m) => m.userId);
    expect(await memberIds()).toContain(created.id);
    expect(await memberIds()).not.toContain(existing.id);
    expect(await memberIds()).not.toContain(ldap.id);
    await new TestClient(t.app).login('before-auto-add', PASSWORD);
    expect(await memberIds()).toContain(existing.id);
  });
});

describe('group settings and effective settings', () => {
  it('adds, edits and removes a setting with typed validation, and members see the effect and source', async () => {
    const { engineering, grace } = await world();
    await join(grace.id, engineering.id);
    const group = engineering.name;
    const form = await admin.get(`/admin/groups/${engineering.id}/settings/edit?key=max_kasms_per_user`);
    expect(form.body).toContain('<label for="f-value">Max Sessions Per User</label>');
    const bad = await admin.post(`/admin/groups/${engineering.id}/settings`, {
      key: 'max_kasms_per_user',
      value: 'abc',
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('Max Sessions Per User: &quot;abc&quot; is not a whole number.');
    expect(bad.body).toContain('value="abc"');
    expect(
      (await admin.post(`/admin/groups/${engineering.id}/settings`, { key: 'max_kasms_per_user', value: '7' }))
        .statusCode,
    ).toBe(303);

    const sharing = await admin.post(`/admin/groups/${engineering.id}/settings`, {
      key: 'allow_kasm_sharing',
      value: 'true',
    });
    expect(sharing.statusCode).toBe(303);
    const badJson = await admin.post(`/admin/groups/${engineering.id}/settings`, {
      key: 'volume_mapping',
      value: '{nope',
    });
    expect(badJson.statusCode).toBe(422);
    expect(badJson.body).toContain('Volume Mapping: is not valid JSON');

    const userPage = await admin.get(`/admin/users/${grace.id}`);
    expect(userPage.body).toContain(
      `id="effective-max_kasms_per_user"><th scope="row">Max Sessions Per User</th><td>7</td><td>group ${group}</td>`,
    );
    expect(userPage.body).toMatch(new RegExp(`id="effective-allow_kasm_sharing">.*On</td><td>group ${group}</td>`));
    expect(userPage.body).toMatch(/id="effective-allow_kasm_audio">.*Off<\/td><td>default<\/td>/);

    const event = await lastAudit('group_settings_changed', engineering.id);
    expect(event!.details).toMatchObject({ changes: { allow_kasm_sharing: { old: null, new: true } } });

    await admin.get(`/admin/groups/${engineering.id}`);
    expect((await admin.post(`/admin/groups/${engineering.id}/settings/max_kasms_per_user/remove`)).statusCode).toBe(
      303,
    );
    const after = await admin.get(`/admin/users/${grace.id}`);
    expect(after.body).toMatch(/id="effective-max_kasms_per_user">.*5<\/td><td>default<\/td>/);
  });

  it('lets a lower priority number win', async () => {
    const { engineering, grace, alan } = await world();
    const everyone = await createGroupThroughForm(`Everyone ${worlds}`);
    for (const user of [grace, alan]) await join(user.id, everyone.id);
    await join(grace.id, engineering.id);
    await admin.get(`/admin/groups/${everyone.id}`);
    await admin.post(`/admin/groups/${everyone.id}/settings`, { key: 'theme', value: 'Light' });
    await admin.post(`/admin/groups/${engineering.id}/settings`, { key: 'theme', value: 'Dark' });
    expect((await admin.get(`/admin/users/${grace.id}`)).body).toMatch(
      new RegExp(`id="effective-theme">.*Dark</td><td>group ${engineering.name}</td>`),
    );
    expect((await admin.get(`/admin/users/${alan.id}`)).body).toMatch(
      new RegExp(`id="effective-theme">.*Light</td><td>group ${everyone.name}</td>`),
    );
  });
});

describe('permissions', () => {
  it('grants permissions per group, adding up across groups, effective at once', async () => {
    const world_ = await world();
    const { engineering } = world_;
    await join(world_.grace.id, engineering.id);
    await admin.get(`/admin/groups/${engineering.id}`);
    expect((await admin.post(`/admin/groups/${engineering.id}/permissions`, {})).statusCode).toBe(303);
    const grace = new TestClient(t.app);
    await grace.login(world_.grace.username, PASSWORD);
    expect((await grace.get('/admin/users')).statusCode).toBe(403);
    const saved = await admin.post(`/admin/groups/${engineering.id}/permissions`, { permission: 'users_view' });
    expect(saved.statusCode).toBe(303);
    expect((await lastAudit('privilege_permissions_changed', engineering.id))!.details).toMatchObject({
      added: ['users_view'],
    });
    const list = await grace.get('/admin/users');
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain('Add User'); // read only
    const someone = world_.alan;
    const page = await grace.get(`/admin/users/${someone.id}`);
    expectElement(page.body, 'fieldset', { class: 'grid', disabled: true }, { only: true });
    expect(page.body).not.toContain('Save Changes');
    expect(
      (await grace.post(`/admin/users/${someone.id}`, { username: 'hacked', realm: 'local', version: '1' })).statusCode,
    ).toBe(403);
  });

  it('lets users_modify edit users, but not administrators without users_modify_admin', async () => {
    const { client } = await clientWith('modifier', ['users_view', 'users_modify']);
    const { alan: target } = await world();
    const page = await client.get(`/admin/users/${target.id}`);
    const version = /name="version" value="(\d+)"/.exec(page.body)![1]!;
    expect(
      (
        await client.post(`/admin/users/${target.id}`, {
          username: target.username,
          realm: 'local',
          city: 'Wilmslow',
          version,
        })
      ).statusCode,
    ).toBe(303);
    const adminUser = (await t.handle.db.select().from(users).where(eq(users.username, 'admin')))[0]!;
    const adminPage = await client.get(`/admin/users/${adminUser.id}`);
    expect(adminPage.body).not.toContain('Save Changes');
    const denied = await client.post(`/admin/users/${adminUser.id}`, {
      username: 'admin',
      realm: 'local',
      disabled: 'true',
      version: String(adminUser.version),
    });
    expect(denied.statusCode).toBe(403);
    expect(denied.body).toContain('users_modify_admin');
  });

  it('needs groups_modify_system to change members of a system group', async () => {
    const { client } = await clientWith('group-mod', ['groups_view', 'groups_view_system', 'groups_modify']);
    const allUsers = (await groupNamed('All Users'))!;
    const { engineering, alan } = await world();
    await t.handle.db.insert(groupPermissions).values({ groupId: engineering.id, permission: 'users_view' });
    expect((await client.get(`/admin/groups/${allUsers.id}`)).statusCode).toBe(200);
    expect(
      (await client.post(`/admin/groups/${allUsers.id}/settings`, { key: 'theme', value: 'Dark' })).statusCode,
    ).toBe(403);
    expect(
      (await client.post(`/admin/groups/${engineering.id}/settings`, { key: 'chat_sfx', value: 'false' })).statusCode,
    ).toBe(303);
    // Engineering grants users_view, which this actor lacks: no adding people to it.
    const escalate = await client.post(`/admin/groups/${engineering.id}/members`, { user_id: alan.id });
    expect(escalate.statusCode).toBe(403);
    expect(escalate.body).toContain(`Adding members to ${engineering.name} needs users_view, which you do not hold.`);
  });

  it("limits _ifmember permissions to the actor's own groups", async () => {
    const { client, group: own } = await clientWith('member-mod', ['groups_view_ifmember', 'groups_modify_ifmember']);
    const { engineering } = await world();
    expect((await client.get(`/admin/groups/${own.id}`)).statusCode).toBe(200);
    expect((await client.get(`/admin/groups/${engineering.id}`)).statusCode).toBe(404);
    const list = await client.get('/admin/groups');
    expect(list.body).toContain('member-mod-powers');
    expect(list.body).not.toContain(`>${engineering.name}<`);
  });

  it('never lets an actor grant what they do not hold, including to themselves', async () => {
    const {
      client,
      group: own,
      user,
    } = await clientWith('escalator', ['groups_view', 'groups_modify', 'groups_view_system', 'groups_modify_system']);
    const form = await client.get(`/admin/groups/${own.id}`);
    expectElement(form.body, '*', {
      id: 'perm-global_admin',
      type: 'checkbox',
      name: 'permission',
      value: 'global_admin',
      'aria-describedby': 'perm-global_admin-hint',
      disabled: true,
    });
    const forged = await client.post(`/admin/groups/${own.id}/permissions`, { permission: 'global_admin' });
    expect(forged.statusCode, forged.body.slice(forged.body.indexOf('<main'), forged.body.indexOf('<main') + 600)).toBe(
      403,
    );
    expect(forged.body).toContain(
      `Granting or revoking permissions of ${own.name} needs global_admin, which you do not hold.`,
    );
    const administrators = (await groupNamed('Administrators'))!;
    const join = await client.post(`/admin/groups/${administrators.id}/members`, { user_id: user.id });
    expect(join.statusCode).toBe(403);
    expect(
      await t.handle.db
        .select()
        .from(userGroups)
        .where(and(eq(userGroups.userId, user.id), eq(userGroups.groupId, administrators.id))),
    ).toHaveLength(0);
    // Saving the form unchanged keeps permissions the actor cannot touch.
    expect(
      (
        await client.post(`/admin/groups/${own.id}/permissions`, {
          permission: ['groups_view', 'groups_modify', 'groups_view_system', 'groups_modify_system', 'audit_view'],
        })
      ).statusCode,
    ).toBe(403);
    expect(
      (
        await client.post(`/admin/groups/${own.id}/permissions`, {
          permission: ['groups_view', 'groups_modify', 'groups_view_system', 'groups_modify_system'],
        })
      ).statusCode,
    ).toBe(303);
  });

  it('never leaves the system without an enabled global admin', async () => {
    const administrators = (await groupNamed('Administrators'))!;
    const adminUser = (await t.handle.db.select().from(users).where(eq(users.username, 'admin')))[0]!;
    await admin.get(`/admin/groups/${administrators.id}`);
    const removeSelf = await admin.post(`/admin/groups/${administrators.id}/members/${adminUser.id}/remove`);
    expect(removeSelf.statusCode).toBe(409);
    expect(removeSelf.body).toContain('would leave no enabled, unlocked local user holding global_admin');
    const dropPermission = await admin.post(`/admin/groups/${administrators.id}/permissions`, {
      permission: 'users_view',
    });
    expect(dropPermission.statusCode).toBe(409);
    expect(
      await t.handle.db.select().from(groupPermissions).where(eq(groupPermissions.groupId, administrators.id)),
    ).toEqual([{ groupId: administrators.id, permission: 'global_admin' }]);
    // With a second admin in another group, the first may go.
    const backup = await createGroupThroughForm('Backup Admins');
    const second = await createUser('second-admin');
    await admin.post(`/admin/groups/${backup.id}/permissions`, { permission: 'global_admin' });
    await admin.post(`/admin/groups/${backup.id}/members`, { user_id: second.id, confirm: 'yes' }); // it grants global_admin
    const deleteBackup = await admin.post(`/admin/groups/${backup.id}/delete`);
    expect(deleteBackup.statusCode).toBe(303); // admin is still in Administrators
    await admin.post(`/admin/groups/${administrators.id}/members`, { user_id: second.id, confirm: 'yes' });
    expect((await admin.post(`/admin/groups/${administrators.id}/members/${second.id}/remove`)).statusCode).toBe(303);
  });
});

describe('audit log', () => {
  it('is browsable and filterable by audit_view holders only', async () => {
    const { engineering, grace } = await world();
    await admin.get(`/admin/groups/${engineering.id}`);
    await admin.post(`/admin/groups/${engineering.id}/members`, { user_id: grace.id });
    const { client: refused } = await clientWith('refused-actor', ['groups_view']);
    expect((await refused.get('/admin/audit')).statusCode).toBe(403);
    const page = await admin.get('/admin/audit');
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('group_member_added');
    const filtered = await admin.get(
      `/admin/audit?action=group_created&target=${encodeURIComponent(engineering.name)}`,
    );
    expect(filtered.body).toContain(engineering.name);
    expect(filtered.body).not.toContain('<td>group_member_added');
    const byActor = await admin.get('/admin/audit?actor=REFUSED-ACTOR&action=authz_fail');
    expect(byActor.body).toContain('refused-actor');
    const fragment = await admin.get('/admin/audit?action=user_created', { 'hx-request': 'true' });
    expect(fragment.body).not.toContain('<html');
    const badDate = await admin.get('/admin/audit?from=yesterday');
    expect(badDate.statusCode).toBe(422);
    expect(badDate.body).toContain('Use a date like 2026-01-31.');
    const today = new Date().toISOString().slice(0, 10);
    expect((await admin.get(`/admin/audit?from=${today}&to=${today}&action=user_created`)).body).toContain(
      grace.username,
    );
    expect((await admin.get('/admin/audit?to=2000-01-01')).body).toContain('No events match.');
    const { client } = await clientWith('no-audit', ['users_view']);
    expect((await client.get('/admin/audit')).statusCode).toBe(403);
  });

  it('records old and new values, and never a password or hash', async () => {
    const events = await t.handle.db.select().from(auditEvents);
    const text = JSON.stringify(events);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain('$argon2');
    expect(text).not.toContain('roster_session');
  });

  it('pages by keyset through a long log', async () => {
    const rows = Array.from({ length: 120 }, (_, i) => ({
      actorType: 'system' as const,
      actorName: 'pager',
      action: 'user_updated',
      targetName: `t${i}`,
    }));
    await t.handle.db.insert(auditEvents).values(rows);
    const first = await admin.get('/admin/audit?actor=pager');
    const older = /href="(\/admin\/audit\?actor=pager&amp;before=\d+)"/.exec(first.body)![1]!.replace(/&amp;/g, '&');
    expect(first.body).toContain('>t119<');
    expect(first.body).not.toContain('>t69<');
    const second = await admin.get(older);
    expect(second.body).toContain('>t69<');
    expect(second.body).not.toContain('>t70<');
  });
});

describe('the group page answers each action in the section it changed', () => {
  /** Every action on the group page that returns to a section, with the message it leaves there. */
  const ACTIONS = [
    {
      section: 'members',
      prepare: async () => undefined,
      act: (c: TestClient, g: { id: string }, u: { id: string }, h?: Record<string, string>) =>
        c.post(`/admin/groups/${g.id}/members`, { user_id: u.id }, h),
      message: (g: { name: string }, u: { username: string }) => `${u.username} added to ${g.name}.`,
    },
    {
      section: 'members',
      prepare: (g: { id: string }, u: { id: string }) => join(u.id, g.id),
      act: (c: TestClient, g: { id: string }, u: { id: string }, h?: Record<string, string>) =>
        c.post(`/admin/groups/${g.id}/members/${u.id}/remove`, {}, h),
      message: (g: { name: string }, u: { username: string }) => `${u.username} removed from ${g.name}.`,
    },
    {
      section: 'settings',
      prepare: async () => undefined,
      act: (c: TestClient, g: { id: string }, _u: unknown, h?: Record<string, string>) =>
        c.post(`/admin/groups/${g.id}/settings`, { key: 'max_kasms_per_user', value: '3' }, h),
      message: () => 'Max Sessions Per User set to 3.',
    },
    {
      section: 'settings',
      prepare: (g: { id: string }) =>
        t.handle.db
          .insert(groupSettings)
          .values({ groupId: g.id, key: 'max_kasms_per_user', value: 3 })
          .then(() => undefined),
      act: (c: TestClient, g: { id: string }, _u: unknown, h?: Record<string, string>) =>
        c.post(`/admin/groups/${g.id}/settings/max_kasms_per_user/remove`, {}, h),
      message: () => 'Max Sessions Per User removed; members get it from another group or the default.',
    },
    {
      section: 'permissions',
      anchor: 'permissions-note', // by Save, at the end of a long list
      prepare: async () => undefined,
      act: (c: TestClient, g: { id: string }, _u: unknown, h?: Record<string, string>) =>
        c.post(`/admin/groups/${g.id}/permissions`, { permission: 'users_view' }, h),
      message: (g: { name: string }) => `Permissions of ${g.name} saved.`,
    },
  ] as const;

  /** The part of a page inside <section id="…">. */
  const sectionOf = (html: string, id: string) => {
    const start = html.indexOf(`<section id="${id}"`);
    return start < 0 ? '' : html.slice(start, html.indexOf('</section>', start));
  };

  it.each(ACTIONS.map((a, i) => ({ ...a, name: `${a.section} #${i}` })))(
    '$name: JS off, the redirect lands on the section and the message shows there, not at the top',
    async (action) => {
      const { engineering, grace } = await world();
      await action.prepare(engineering, grace);
      await admin.get(`/admin/groups/${engineering.id}`);
      const response = await action.act(admin, engineering, grace);
      expect(response.statusCode, response.body).toBe(303);
      const anchor = 'anchor' in action ? action.anchor : action.section;
      expect(response.headers.location).toBe(`/admin/groups/${engineering.id}#${anchor}`);
      const page = await admin.get(response.headers.location!);
      const message = action.message(engineering, grace);
      const section = sectionOf(page.body, action.section);
      const flash = { class: 'flash flash-success', role: 'status' };
      const shown = [flash, { id: anchor, ...flash }].flatMap((attributes) =>
        elements(section, 'p', attributes, { only: true, text: message }),
      );
      expect(shown, `a flash "${message}" in #${action.section}`).not.toHaveLength(0);
      expect(page.body.split(message)).toHaveLength(2); // once: in the section only
    },
  );

  it.each(ACTIONS.map((a, i) => ({ ...a, name: `${a.section} #${i}` })))(
    '$name: htmx gets that section alone, with the message in it',
    async (action) => {
      const { engineering, grace } = await world();
      await action.prepare(engineering, grace);
      await admin.get(`/admin/groups/${engineering.id}`);
      const response = await action.act(admin, engineering, grace, { 'hx-request': 'true' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toMatch(new RegExp(`^\\s*<section id="${action.section}"`));
      expect(response.body).not.toContain('<html');
      expect(response.body).toContain(`role="status">${action.message(engineering, grace)}</p>`);
    },
  );

  it.each(ACTIONS.map((a, i) => ({ ...a, name: `${a.section} #${i}` })))(
    "$name: a boosted form gets the page, scrolled to the section (htmx drops a redirect's #)",
    async (action) => {
      const { engineering, grace } = await world();
      await action.prepare(engineering, grace);
      await admin.get(`/admin/groups/${engineering.id}`);
      const response = await action.act(admin, engineering, grace, { 'hx-request': 'true', 'hx-boosted': 'true' });
      expect(response.statusCode).toBe(200);
      const anchor = 'anchor' in action ? action.anchor : action.section;
      expect(response.headers['hx-reswap']).toBe(`innerHTML show:#${anchor}:top`);
      expect(response.headers['hx-push-url']).toBe(`/admin/groups/${engineering.id}#${anchor}`);
      expect(sectionOf(response.body, action.section)).toContain(
        `role="status">${action.message(engineering, grace)}</p>`,
      );
    },
  );

  it('asks before removing a member or a setting: a confirm page without JS, the same question with hx-confirm', async () => {
    const { engineering, grace } = await world();
    await join(grace.id, engineering.id);
    await t.handle.db.insert(groupSettings).values({ groupId: engineering.id, key: 'max_kasms_per_user', value: 3 });
    const page = (await admin.get(`/admin/groups/${engineering.id}`)).body;
    const removals = [
      {
        url: `/admin/groups/${engineering.id}/members/${grace.id}/remove`,
        question: `Remove ${grace.username} from ${engineering.name}?`,
        button: `Remove ${grace.username}`,
      },
      {
        url: `/admin/groups/${engineering.id}/settings/max_kasms_per_user/remove`,
        question: `Remove the setting Max Sessions Per User from ${engineering.name}?`,
        button: 'Remove Max Sessions Per User',
      },
    ];
    for (const removal of removals) {
      // The row's Remove is a link to the confirm step, and with JS asks the same question.
      expectElement(page, 'a', { href: removal.url, 'hx-post': removal.url, 'hx-confirm': removal.question });
      const confirm = await admin.get(removal.url);
      expect(confirm.statusCode).toBe(200);
      expect(confirm.body).toContain(`<h1>${removal.question}</h1>`);
      expectElement(confirm.body, 'form', { method: 'post', action: removal.url });
      expect(confirm.body).toContain(`>${removal.button}</button>`);
    }
    // Nothing is removed by looking at the confirm step.
    expect(
      await t.handle.db
        .select()
        .from(userGroups)
        .where(and(eq(userGroups.userId, grace.id), eq(userGroups.groupId, engineering.id))),
    ).toHaveLength(1);
    expect(
      await t.handle.db.select().from(groupSettings).where(eq(groupSettings.groupId, engineering.id)),
    ).toHaveLength(1);
  });

  it('refuses the confirm step to someone who may not change the group', async () => {
    const { engineering, grace } = await world();
    await join(grace.id, engineering.id);
    const { client } = await clientWith('viewer-of-groups', ['groups_view']);
    const response = await client.get(`/admin/groups/${engineering.id}/members/${grace.id}/remove`);
    expect(response.statusCode).toBe(403);
  });
});
