import { sql, and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, groupPermissions, groups, sessions, userGroups, users } from '../../src/db/schema.js';
import { systemGroupId } from '../../src/groups/groups-queries.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { createGroup, fixtures, loggedInClient } from '../helpers/factories.js';
import { callApi, insertApiKey } from '../helpers/api.js';
import { elements, expectElement } from '../helpers/html.js';

let t: TestApp;
let admin: TestClient;
const PASSWORD = 'a long user password';

const FULL_USER = {
  username: 'Carol.Danvers',
  password: PASSWORD,
  first_name: 'Carol',
  last_name: 'Danvers',
  realm: 'local',
  notes: 'Pilot.\nCall before noon.',
  organization: 'Starforce',
  phone: '+1 555 0100',
  city: 'Boston',
  state: 'MA',
  country: 'US',
  email: 'carol@example.com',
  custom_attribute_1: 'one',
  custom_attribute_2: 'two <b>bold</b>',
  custom_attribute_3: 'three',
  force_password_reset: 'true',
};

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { findUser } = fixtures(
  () => t,
  () => admin,
);

async function create(form: Record<string, string>) {
  await admin.get('/admin/users/new');
  return admin.post('/admin/users', form);
}

/** A local user of the test's own (each test that changes a user makes the one it changes). */
async function own(username: string, extra: Record<string, string> = {}) {
  const response = await create({ username, password: PASSWORD, realm: 'local', ...extra });
  expect(response.statusCode, response.body.slice(0, 200)).toBe(303);
  return (await findUser(username))!;
}

function versionOf(html: string): string {
  return /name="version" value="(\d+)"/.exec(html)![1]!;
}

describe('creating users', () => {
  it('offers Add User on the users table and a form with every field', async () => {
    const list = await admin.get('/admin/users');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('href="/admin/users/new">Add User</a>');
    const form = await admin.get('/admin/users/new');
    for (const label of [
      'User Name',
      'Password',
      'Realm',
      'First Name',
      'Last Name',
      'Organization',
      'Locked',
      'Disabled',
      'Force Password Reset on Login',
      'Email',
      'Phone',
      'City',
      'State',
      'Country',
      'Custom Attribute 1',
      'Custom Attribute 2',
      'Custom Attribute 3',
      'Notes',
    ]) {
      expect(form.body, label).toMatch(new RegExp(`<label for="f-[a-z_0-9]+">${label}`));
    }
  });

  it('creates a user with all fields, in All Users, and audits it without the password', async () => {
    const response = await create(FULL_USER);
    expect(response.statusCode).toBe(303);
    const user = (await findUser('Carol.Danvers'))!;
    expect(response.headers.location).toBe(`/admin/users/${user.id}`);
    expect(user).toMatchObject({
      firstName: 'Carol',
      lastName: 'Danvers',
      notes: 'Pilot.\nCall before noon.',
      organization: 'Starforce',
      phone: '+1 555 0100',
      city: 'Boston',
      state: 'MA',
      country: 'US',
      email: 'carol@example.com',
      customAttribute1: 'one',
      customAttribute2: 'two <b>bold</b>',
      customAttribute3: 'three',
      forcePasswordReset: true,
      locked: false,
      disabled: false,
      lastSession: null,
    });
    expect(user.passwordHash).toMatch(/^\$argon2id\$/);
    const memberships = await t.handle.db.select().from(userGroups).where(eq(userGroups.userId, user.id));
    expect(memberships.map((m) => m.groupId)).toEqual([await systemGroupId(t.handle.db, 'all_users')]);

    const [event] = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_created'), eq(auditEvents.targetId, user.id)));
    expect(event!.actorName).toBe('admin');
    expect(JSON.stringify(event)).not.toContain(PASSWORD);
    expect(JSON.stringify(event)).not.toContain('argon2');

    const page = await admin.get(`/admin/users/${user.id}`);
    expect(page.body).toContain('User Carol.Danvers created.');
    expect(page.body).toContain('two &lt;b&gt;bold&lt;/b&gt;'); // escaped, never markup
    expect(page.body).toMatch(/Last Session<\/dt><dd id="last-session">Never/);
  });

  it('honours Force Password Reset set on create', async () => {
    expect(
      (await create({ username: 'forced-reset', password: PASSWORD, realm: 'local', force_password_reset: 'true' }))
        .statusCode,
    ).toBe(303);
    const client = new TestClient(t.app);
    expect((await client.login('forced-reset', PASSWORD)).headers.location).toBe('/password-reset');
  });

  it('shows errors beside the fields with the entered values kept, and stores nothing', async () => {
    const response = await create({
      ...FULL_USER,
      username: 'bad-input',
      email: 'nope',
      password: 'short',
      first_name: 'Kept Value',
    });
    expect(response.statusCode).toBe(422);
    expect(response.body).toContain('Email must look like an address');
    expect(response.body).toContain('Password must be at least 12 characters');
    expect(response.body).toContain('value="Kept Value"');
    expect(response.body).toContain('value="nope"');
    expectElement(response.body, '*', { id: 'f-email', 'aria-invalid': 'true', 'aria-describedby': 'e-email' });
    expect(response.body).not.toContain('value="short"');
    expect(await findUser('bad-input')).toBeUndefined();
  });

  it('lists every error in a summary that takes the focus, links each to its field, and never sends the password back', async () => {
    const password = 'a perfectly good password';
    const response = await create({
      ...FULL_USER,
      username: 'summary-case',
      email: 'nope',
      phone: 'x'.repeat(300),
      password,
    });
    expect(response.statusCode).toBe(422);
    const summary = /<div class="[^"]*error-summary[^"]*"[^>]*>([\s\S]*?)<\/div>/.exec(response.body)!;
    expect(summary[0]).toContain('role="alert"');
    expect(summary[0]).toContain('autofocus');
    expect(summary[1]).toContain('There are 2 problems');
    expect(summary[1]).toMatch(/<a href="#f-email">Email must look like an address/);
    expect(summary[1]).toMatch(/<a href="#f-phone">/);
    expect(response.body.indexOf('error-summary')).toBeLessThan(response.body.indexOf('id="f-username"'));
    expect(response.body).not.toContain(password);
    expect(response.body).toContain('Enter the password again (it is never sent back).');
  });

  it('treats a duplicate user name in any case as a field error', async () => {
    await own('Dup.Name');
    const response = await create({ ...FULL_USER, username: 'DUP.name' });
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('A user with this User Name already exists');
    expect(response.body).toContain('value="DUP.name"');
  });

  it('refuses Force Password Reset for a non-local realm', async () => {
    const response = await create({ username: 'ldap-user', realm: 'ldap', force_password_reset: 'true' });
    expect(response.statusCode).toBe(422);
    expect(response.body).toContain('Force Password Reset on Login applies to local users only');
    expect((await create({ username: 'ldap-user', realm: 'ldap' })).statusCode).toBe(303);
    expect((await findUser('ldap-user'))!.passwordHash).toBeNull();
  });
});

describe('users table', () => {
  // An app of its own: these tests read a list whose every row they made.
  let t: TestApp;
  let admin: TestClient;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await new TestClient(t.app).loginAsFirstAdmin();
    const names = ['zed', 'yvonne', 'xavier', 'walter', 'victor', 'ursula', 'tom', 'sam', 'rita'];
    for (const [i, name] of names.entries()) {
      await admin.addUser(name, { organization: i % 2 ? 'Acme Corp' : 'Globex', email: `${name}@example.org` });
    }
    await admin.addUser('Carol.Danvers', { first_name: 'Carol', last_name: 'Danvers' });
    await t.handle.db.update(users).set({ locked: true }).where(eq(users.username, 'zed'));
  });
  afterAll(() => t.close());

  it('lists users with their columns and badges', async () => {
    const page = await admin.get('/admin/users');
    for (const header of ['User Name', 'First Name', 'Last Name', 'Realm', 'Organization', 'Email', 'Last Session']) {
      expect(page.body).toContain(`>${header}`);
    }
    expect(page.body).toMatch(/zed<\/a>[\s\S]*?<span class="badge badge-warn">Locked<\/span>/);
  });

  it('searches user name, names, email and organization, ignoring case', async () => {
    const byOrg = await admin.get('/admin/users?q=ACME');
    expect(byOrg.body).toContain('>yvonne</a>');
    expect(byOrg.body).toContain('>walter</a>');
    expect(byOrg.body).not.toContain('>zed</a>');
    expect(byOrg.body).toMatch(/\d+ users matching “ACME”/);
    expect((await admin.get('/admin/users?q=danv')).body).toContain('>Carol.Danvers</a>');
    expect((await admin.get('/admin/users?q=victor%40example')).body).toContain('>victor</a>');
    expect((await admin.get('/admin/users?q=100%25')).body).toContain('0 users');
  });

  it('sorts by a column in both directions', async () => {
    const names = (html: string) =>
      [...html.matchAll(/<td><a href="\/admin\/users\/[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
    const asc = names((await admin.get('/admin/users?sort=username')).body);
    expect(asc).toEqual([...asc].sort((a, b) => a!.toLowerCase().localeCompare(b!.toLowerCase())));
    const desc = names((await admin.get('/admin/users?sort=username&dir=desc')).body);
    expect(desc).toEqual([...asc].reverse());
    const byOrg = (await admin.get('/admin/users?sort=organization&dir=desc')).body;
    expect(byOrg).toContain('aria-sort="descending"');
  });

  it('pages through the results', async () => {
    await t.handle.db.insert(users).values(Array.from({ length: 30 }, (_, i) => ({ username: `pager-${i}` })));
    const first = await admin.get('/admin/users?q=pager-&per_page=25');
    expect(first.body).toContain('Page 1 of 2');
    expect(first.body).toContain('rel="next"');
    const second = await admin.get('/admin/users?q=pager-&per_page=25&page=2');
    expect(second.body).toContain('Page 2 of 2');
    expect(second.body).toContain('rel="prev"');
  });

  it('returns only the rows fragment to htmx, the whole page otherwise', async () => {
    const fragment = await admin.get('/admin/users?q=acme', { 'hx-request': 'true' });
    expect(fragment.headers.vary).toMatch(/HX-Request/);
    expect(fragment.body).not.toContain('<html');
    expect(fragment.body).toContain('<table class="data"');
    const boosted = await admin.get('/admin/users?q=acme', { 'hx-request': 'true', 'hx-boosted': 'true' });
    expect(boosted.body).toContain('<html');
    const restore = await admin.get('/admin/users?q=acme', {
      'hx-request': 'true',
      'hx-history-restore-request': 'true',
    });
    expect(restore.body).toContain('<html');
  });
});

describe('editing users', () => {
  it('shows and edits every field, with Last Session read-only', async () => {
    await own('edit-me');
    const user = (await findUser('edit-me'))!;
    const page = await admin.get(`/admin/users/${user.id}`);
    // No second factor, nothing to reset: no Reset button, and the page says why.
    expect(page.body).not.toContain('Reset Two Factor Authentication Secret');
    expect(page.body).toContain('edit-me has no second factor: there is nothing to reset.');
    expect(page.body).not.toContain('name="last_session"');
    const saved = await admin.post(`/admin/users/${user.id}`, {
      ...FULL_USER,
      username: 'edit-me',
      password: '',
      first_name: 'Victor',
      force_password_reset: '',
      last_session: '2020-01-01T00:00:00Z',
      version: versionOf(page.body),
    });
    expect(saved.statusCode).toBe(303);
    const after = (await findUser('edit-me'))!;
    expect(after).toMatchObject({ firstName: 'Victor', city: 'Boston', version: user.version + 1, lastSession: null });
    expect(after.passwordHash).toBe(user.passwordHash); // empty password keeps the old one
    const [event] = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_updated'), eq(auditEvents.targetId, user.id)));
    expect((event!.details as { changes: Record<string, unknown> }).changes.first_name).toEqual({
      old: '',
      new: 'Victor',
    });
    expect((await admin.get(`/admin/users/${user.id}`)).body).toContain('User edit-me saved.');
  });

  it('shows "changed by someone else" instead of overwriting a newer version', async () => {
    await own('stale-walter');
    const user = (await findUser('stale-walter'))!;
    const page = await admin.get(`/admin/users/${user.id}`);
    const staleVersion = versionOf(page.body);
    const other = await new TestClient(t.app).loginAsFirstAdmin();
    await other.get(`/admin/users/${user.id}`);
    const first = await other.post(`/admin/users/${user.id}`, {
      username: 'stale-walter',
      realm: 'local',
      city: 'First Writer',
      version: staleVersion,
    });
    expect(first.statusCode).toBe(303);

    const second = await admin.post(`/admin/users/${user.id}`, {
      username: 'stale-walter',
      realm: 'local',
      city: 'Second Writer',
      version: staleVersion,
    });
    expect(second.statusCode).toBe(409);
    expect(second.body).toContain('changed by someone else');
    expect(second.body).toContain('value="Second Writer"'); // what was typed is kept
    expect((await findUser('stale-walter'))!.city).toBe('First Writer');
    // Saving again on purpose, from the refreshed form, overwrites.
    const again = await admin.post(`/admin/users/${user.id}`, {
      username: 'stale-walter',
      realm: 'local',
      city: 'Second Writer',
      version: versionOf(second.body),
    });
    expect(again.statusCode).toBe(303);
    expect((await findUser('stale-walter'))!.city).toBe('Second Writer');
  });

  it('keeps user names unique on rename, ignoring case', async () => {
    await own('taken-name');
    const user = await own('rename-me');
    const page = await admin.get(`/admin/users/${user.id}`);
    const response = await admin.post(`/admin/users/${user.id}`, {
      username: 'TAKEN-NAME',
      realm: 'local',
      version: versionOf(page.body),
    });
    expect(response.statusCode).toBe(409);
    expect(response.body).toContain('already exists');
  });

  it('clearing Locked lets the user log in again', async () => {
    await own('locked-zed', { locked: 'true' });
    const user = (await findUser('locked-zed'))!;
    expect((await new TestClient(t.app).login('locked-zed', PASSWORD)).statusCode).toBe(401);
    const page = await admin.get(`/admin/users/${user.id}`);
    expectElement(page.body, '*', { id: 'f-locked', checked: true });
    await admin.post(`/admin/users/${user.id}`, {
      username: 'locked-zed',
      realm: 'local',
      version: versionOf(page.body),
    });
    expect((await new TestClient(t.app).login('locked-zed', PASSWORD)).statusCode).toBe(303);
  });

  it('resets two-factor authentication after confirming; says what follows from their groups, and that a user with no factor has nothing to reset', async () => {
    await own('reset-yvonne');
    const user = (await findUser('reset-yvonne'))!;
    await t.handle.db
      .update(users)
      .set({ twoFactorEnabled: true, twoFactorSecret: 'encrypted', twoFactorLastStep: 5 })
      .where(eq(users.id, user.id));
    const page = (await admin.get(`/admin/users/${user.id}`)).body;
    // No group of theirs requires 2FA (self-enrolment is on by default): they may enrol again themselves.
    expect(page).toContain('They can enrol again from their profile.');
    expect(page).not.toContain('next login');
    const response = await admin.post(`/admin/users/${user.id}/reset-2fa`, { confirm: 'yes' });
    expect(response.statusCode).toBe(303);
    expect(await findUser('reset-yvonne')).toMatchObject({
      twoFactorEnabled: false,
      twoFactorSecret: null,
      twoFactorLastStep: null,
    });
    expect((await admin.get(`/admin/users/${user.id}`)).body).toContain(
      'Two-factor authentication of reset-yvonne was reset. They can enrol again from their profile.',
    );
    const audits = async () =>
      (
        await t.handle.db
          .select()
          .from(auditEvents)
          .where(and(eq(auditEvents.action, 'user_2fa_reset'), eq(auditEvents.targetId, user.id)))
      ).length;
    expect(await audits()).toBe(1);

    // Now without a factor: no button, and a reset (an old form, a second tab) changes and audits nothing.
    const after = (await admin.get(`/admin/users/${user.id}`)).body;
    expect(after).not.toContain('Reset Two Factor Authentication Secret');
    expect(after).toContain('reset-yvonne has no second factor: there is nothing to reset.');
    const versionBefore = (await findUser('reset-yvonne'))!.version;
    const noop = await admin.post(`/admin/users/${user.id}/reset-2fa`, { confirm: 'yes' });
    expect(noop.statusCode).toBe(303);
    const message = (await admin.get(`/admin/users/${user.id}`)).body;
    expect(message).toContain('reset-yvonne had no second factor; nothing to reset.');
    expect(message).not.toContain('was reset');
    expect(await audits()).toBe(1);
    expect((await findUser('reset-yvonne'))!.version).toBe(versionBefore);

    // In a group that requires 2FA: they enrol again at their next login.
    const strict = await createGroup(t.handle.db, { name: 'Strict 2FA', settings: { require_2fa: true } });
    await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: strict.id });
    await t.handle.db
      .update(users)
      .set({ twoFactorEnabled: true, twoFactorSecret: 'encrypted' })
      .where(eq(users.id, user.id));
    expect((await admin.get(`/admin/users/${user.id}`)).body).toContain('They enrol again at their next login');
    expect((await admin.get(`/admin/users/${user.id}/reset-2fa`)).body).toContain(
      'They enrol again at their next login',
    );
    await admin.post(`/admin/users/${user.id}/reset-2fa`, { confirm: 'yes' });
    expect((await admin.get(`/admin/users/${user.id}`)).body).toContain(
      'was reset. They enrol again at their next login',
    );
  });

  // Every action of the user page that cannot be taken back asks first: with JavaScript the page's
  // hx-confirm question, without it a confirm page (GET, or the POST without confirm=yes) asking
  // the same; nothing happens until confirmed.
  it.each([
    {
      action: 'reset-2fa',
      question: (name: string) => `Reset two-factor authentication of ${name}?`,
      button: 'Reset Two Factor Authentication',
      setup: async (id: string) =>
        void (await t.handle.db
          .update(users)
          .set({ twoFactorEnabled: true, twoFactorSecret: 'encrypted' })
          .where(eq(users.id, id))),
      done: async (id: string) =>
        (await t.handle.db.select().from(users).where(eq(users.id, id)))[0]!.twoFactorEnabled === false,
    },
    {
      action: 'logout',
      question: (name: string) => `Log out ${name} everywhere?`,
      button: 'Log Out Everywhere',
      setup: async (id: string) =>
        void (await t.handle.db
          .insert(sessions)
          .values({ sid: `sid-confirm-${id}`, userId: id, data: {}, expiresAt: new Date(Date.now() + 3_600_000) })),
      done: async (id: string) =>
        (await t.handle.db.select().from(sessions).where(eq(sessions.userId, id))).length === 0,
    },
  ])('asks before $action, with JavaScript and without', async ({ action, question, button, setup, done }) => {
    const user = await own(`confirm-${action}`);
    await setup(user.id);
    const url = `/admin/users/${user.id}/${action}`;
    const page = (await admin.get(`/admin/users/${user.id}`)).body;
    expectElement(
      page,
      'form',
      { method: 'post', action: url, 'hx-confirm': question(user.username), 'hx-vals': '{"confirm": "yes"}' },
      { only: true },
    );
    for (const step of [() => admin.get(url), () => admin.post(url), () => admin.post(url, { confirm: 'no' })]) {
      const shown = await step();
      if (shown.statusCode === 400) continue; // confirm=no is not a value the form sends
      expect(shown.statusCode).toBe(200);
      expect(shown.body).toContain(`<h1>${question(user.username)}</h1>`);
      const confirmForm = expectElement(
        shown.body,
        'form',
        { method: 'post', action: url, class: 'buttons' },
        { only: true },
      );
      const confirmYes = elements(
        shown.body,
        'input',
        { type: 'hidden', name: 'confirm', value: 'yes' },
        { only: true },
      );
      const afterForm = confirmYes.find((input) => input.start > confirmForm.start);
      expect(afterForm, 'a hidden confirm=yes after the form starts').toBeDefined();
      expect(shown.body.slice(afterForm!.end)).toContain(`${button}</button>`);
      expect(shown.body).toContain(`<a href="/admin/users/${user.id}#actions">Cancel</a>`);
      expect(await done(user.id), 'nothing happens before the confirm').toBe(false);
    }
    expect((await admin.post(url, { confirm: 'yes' })).statusCode).toBe(303);
    expect(await done(user.id)).toBe(true);
  });

  it('refuses to make a user without a password local, beside Realm, keeping what was typed (the Add User rule)', async () => {
    const created = await create({ username: 'ldap-lena', realm: 'ldap' });
    expect(created.statusCode).toBe(303);
    const user = (await findUser('ldap-lena'))!;
    expect(user.passwordHash).toBeNull();
    const page = await admin.get(`/admin/users/${user.id}`);
    const refused = await admin.post(`/admin/users/${user.id}`, {
      username: 'ldap-lena',
      realm: 'local',
      city: 'Typed City',
      version: versionOf(page.body),
    });
    expect(refused.statusCode).toBe(422);
    expectElement(
      refused.body,
      'p',
      { class: 'error', id: 'e-realm' },
      { only: true, text: 'A local user needs a password: enter one to change the realm to local.' },
    );
    expectElement(refused.body, 'option', { value: 'local', selected: true }, { only: true }); // the entered values are kept
    expect(refused.body).toContain('value="Typed City"');
    expect(await findUser('ldap-lena')).toMatchObject({ realm: 'ldap', city: '', version: user.version }); // nothing written
    // The same rule over the API (one validator).
    const key = await insertApiKey(t.handle.db, { permissions: ['users_modify'] });
    const api = await callApi(t.app, key, 'update_user', { target_user: { user_id: user.id, realm: 'local' } });
    expect(api.statusCode).toBe(400);
    expect(api.json().error_message).toContain('target_user.realm: A local user needs a password');
    // With a password it is a local user who can log in; a local user keeps theirs without retyping it.
    const saved = await admin.post(`/admin/users/${user.id}`, {
      username: 'ldap-lena',
      realm: 'local',
      password: PASSWORD,
      version: versionOf(page.body),
    });
    expect(saved.statusCode).toBe(303);
    expect(await findUser('ldap-lena')).toMatchObject({ realm: 'local' });
    expect((await new TestClient(t.app).login('ldap-lena', PASSWORD)).statusCode).toBe(303);
    const again = await admin.get(`/admin/users/${user.id}`);
    expect(
      (
        await admin.post(`/admin/users/${user.id}`, {
          username: 'ldap-lena',
          realm: 'local',
          city: 'Later',
          version: versionOf(again.body),
        })
      ).statusCode,
    ).toBe(303);
  });

  it('answers 404 for an unknown user', async () => {
    expect((await admin.get('/admin/users/00000000-0000-0000-0000-000000000000')).statusCode).toBe(404);
    expect((await admin.get('/admin/users/not-a-uuid')).statusCode).toBe(404);
  });
});

describe('deleting users', () => {
  it('asks for confirmation, then deletes and audits', async () => {
    await own('delete-yvonne');
    const user = (await findUser('delete-yvonne'))!;
    const confirm = await admin.get(`/admin/users/${user.id}/delete`);
    expect(confirm.body).toContain('Delete user delete-yvonne?');
    expect(await findUser('delete-yvonne')).toBeDefined(); // the GET changes nothing
    const response = await admin.post(`/admin/users/${user.id}/delete`);
    expect(response.statusCode).toBe(303);
    expect(await findUser('delete-yvonne')).toBeUndefined();
    expect((await admin.get('/admin/users')).body).toContain('User delete-yvonne deleted.');
    const [event] = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_deleted'), eq(auditEvents.targetId, user.id)));
    expect(event!.targetName).toBe('delete-yvonne');
  });

  it("answers htmx with the table section at the list's query, without the row and with the message", async () => {
    await own('delete-xavier');
    const user = (await findUser('delete-xavier'))!;
    await admin.get('/admin/users');
    const response = await admin.post(
      `/admin/users/${user.id}/delete?q=delete-&sort=email&dir=desc`,
      {},
      { 'hx-request': 'true' },
    );
    expect(response.statusCode).toBe(200);
    expect(response.body).not.toContain('<html');
    expectElement(
      response.body,
      'p',
      { class: 'flash flash-success', role: 'status' },
      { only: true, text: 'User delete-xavier deleted.' },
    );
    expect(response.body).not.toContain('>delete-xavier</a>');
    expectElement(
      response.body,
      'input',
      { type: 'hidden', name: 'sort', value: 'email', form: 'users-filter' },
      { only: true },
    );
    expect(response.headers['hx-replace-url']).toBe('/admin/users?q=delete-&sort=email&dir=desc');
    expect(await findUser('delete-xavier')).toBeUndefined();
  });

  it('lets an administrator delete their own account, which logs them out (no 500)', async () => {
    const self = await own('self-deleter');
    const [administrators] = await t.handle.db.select().from(groups).where(eq(groups.systemKey, 'administrators'));
    await t.handle.db.insert(userGroups).values({ userId: self.id, groupId: administrators!.id });
    const client = await loggedInClient(t.app, 'self-deleter', { visit: null });
    await client.get(`/admin/users/${self.id}/delete`);
    const response = await client.post(`/admin/users/${self.id}/delete`);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/login');
    expect(await findUser('self-deleter')).toBeUndefined();
    expect((await client.get('/')).headers.location).toBe('/login');
  });

  it('refuses to delete, disable or lock the last enabled administrator', async () => {
    const me = (await findUser('admin'))!;
    await admin.get(`/admin/users/${me.id}/delete`);
    const del = await admin.post(`/admin/users/${me.id}/delete`);
    expect(del.statusCode).toBe(409);
    expect(del.body).toContain('would leave no enabled, unlocked local user holding global_admin');
    const page = await admin.get(`/admin/users/${me.id}`);
    const disable = await admin.post(`/admin/users/${me.id}`, {
      username: 'admin',
      realm: 'local',
      disabled: 'true',
      version: versionOf(page.body),
    });
    expect(disable.statusCode).toBe(409);
    expect(disable.body).toContain('would leave no enabled, unlocked local user holding global_admin');
    expect(await findUser('admin')).toMatchObject({ disabled: false });
  });

  it('refuses to move the last administrator out of the local realm (nobody could log in as one)', async () => {
    const me = (await findUser('admin'))!;
    for (const realm of ['ldap', 'saml', 'oidc']) {
      const page = await admin.get(`/admin/users/${me.id}`);
      const change = await admin.post(`/admin/users/${me.id}`, {
        username: 'admin',
        realm,
        version: versionOf(page.body),
      });
      expect(change.statusCode, realm).toBe(409);
      expect(change.body).toContain('would leave no enabled, unlocked local user holding global_admin who can log in');
    }
    expect(await findUser('admin')).toMatchObject({ realm: 'local' });
  });
});

describe('access', () => {
  it('sends anonymous visitors to log in, and refuses users without permission with 403', async () => {
    await own('plain-victor');
    const anonymous = new TestClient(t.app);
    expect((await anonymous.get('/admin/users')).statusCode).toBe(303);
    const plain = await loggedInClient(t.app, 'plain-victor', { visit: null });
    const page = await plain.get('/admin/users');
    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('You do not have permission');
    const victor = (await findUser('plain-victor'))!;
    await plain.get('/');
    expect((await plain.post(`/admin/users/${victor.id}/delete`)).statusCode).toBe(403);
    expect(await findUser('plain-victor')).toBeDefined();
    const [denied] = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'authz_fail'), eq(auditEvents.actorId, victor.id)));
    expect(denied).toMatchObject({ action: 'authz_fail', outcome: 'failure' });
  });

  it('reads permissions from the database on every request', async () => {
    await own('promoted-victor');
    const plain = await loggedInClient(t.app, 'promoted-victor', { visit: null });
    expect((await plain.get('/admin/users')).statusCode).toBe(403);
    const victor = (await findUser('promoted-victor'))!;
    const viewers = await createGroup(t.handle.db, { name: 'Viewers', permissions: ['users_view'] });
    await t.handle.db.insert(userGroups).values({ userId: victor.id, groupId: viewers.id });
    expect((await plain.get('/admin/users')).statusCode).toBe(200);
    await t.handle.db.delete(groupPermissions).where(eq(groupPermissions.groupId, viewers.id));
    expect((await plain.get('/admin/users')).statusCode).toBe(403);
  });
});

describe('users table at scale', () => {
  let t: TestApp;
  let admin: TestClient;
  beforeAll(async () => {
    t = await createTestApp();
    admin = await new TestClient(t.app).loginAsFirstAdmin();
  });
  afterAll(() => t.close());

  it('caps the count at 10,000 and still pages on', async () => {
    const { seedUsers } = await import('../../bench/seed.js');
    expect(await seedUsers(t.handle.db, 10_050)).toBe(10_050);
    const first = await admin.get('/admin/users?q=bench-user');
    expect(first.body).toContain('10,000+ users matching');
    expect(first.body).toContain('Page 1 of about 400');
    const deep = await admin.get('/admin/users?q=bench-user&page=401');
    expect(deep.body).toContain('Page 401 of about 400');
    expect(deep.body).toContain('rel="next"');
    const last = await admin.get('/admin/users?q=bench-user&page=402'); // 10,050 = 402 pages of 25
    expect(last.body).not.toContain('rel="next"');
    expect([...last.body.matchAll(/>bench-user-\d+<\/a>/g)]).toHaveLength(25);
    const rare = await admin.get('/admin/users?q=bench-user-10049');
    expect(rare.body).toContain('1 user matching');
    // The whole table: the planner's estimate, not a count.
    await t.handle.db.execute(sql`analyze users`);
    expect((await admin.get('/admin/users')).body).toMatch(/About 10,0\d\d users/);
  });
});
