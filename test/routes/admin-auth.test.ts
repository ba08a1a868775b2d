// The admin pages of identity providers (/admin/auth) through HTTP, against a real slapd: the
// list, the LDAP form from a preset (errors beside the fields, values kept, the bind password
// never echoed anywhere), saving with optimistic locking, enable and disable, delete after a
// confirm step, Test (nothing saved; "unavailable" within the timeout) and Sync now, with htmx
// answering the same sections in place, again and again. Each test makes its own directory.
import crypto from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, identityProviders, userGroups, userIdentities, users } from '../../src/db/schema.js';
import { runDueSyncs } from '../../src/directories/directory-sync-schedule.js';
import { testConnection } from '../../src/directories/ldap-directory.js';
import { callApi, insertApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createGroup, loggedInClient, seedUser } from '../helpers/factories.js';
import { expectElement } from '../helpers/html.js';
import {
  GROUPS,
  PEOPLE,
  SERVICE_DN,
  SERVICE_PASSWORD,
  skipSlapdTests,
  slapdLdapConfig,
  startSlapd,
  type Slapd,
} from '../helpers/slapd.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

const HTMX = { 'hx-request': 'true' };

describe.skipIf(skipSlapdTests)('the identity provider pages', () => {
  let slapd: Slapd;
  let t: TestApp;
  let admin: TestClient;
  beforeAll(async () => {
    [slapd, t] = await Promise.all([startSlapd(), createTestApp()]);
    admin = await new TestClient(t.app).loginAsFirstAdmin();
  }, 30_000);
  afterAll(async () => {
    await Promise.all([slapd?.stop(), t?.close()]);
  });

  const db = () => t.app.db;
  const unique = (name: string) => `${name} ${crypto.randomUUID().slice(0, 8)}`;
  const providerRow = async (id: string) =>
    (await db().select().from(identityProviders).where(eq(identityProviders.id, id)))[0];

  /** The form's fields for the test directory (the OpenLDAP preset over ldaps:// with its CA). */
  function slapdForm(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      name: unique('Corp'),
      sort_order: '10',
      urls: slapd.ldapsUrl,
      ca_certificate: slapd.caCertificate,
      bind_dn: SERVICE_DN,
      bind_password: SERVICE_PASSWORD,
      user_search_base: PEOPLE,
      user_search_scope: 'sub',
      user_filter: '(&(objectClass=inetOrgPerson)(uid={username}))',
      attr_username: 'uid',
      attr_email: 'mail',
      attr_first_name: 'givenName',
      attr_last_name: 'sn',
      attr_phone: 'telephoneNumber',
      attr_organization: 'o',
      attr_immutable_id: 'entryUUID',
      group_source: 'search',
      group_search_base: GROUPS,
      group_search_filter: '(&(objectClass=groupOfNames)(member={dn}))',
      nested_groups: 'recursive',
      login_domains: 'example.test',
      connect_timeout_ms: '1000',
      operation_timeout_ms: '1000',
      sync_interval_minutes: '0',
      ...overrides,
    };
  }

  /** Adds a directory through the form; its id. */
  async function addDirectory(overrides: Record<string, string> = {}): Promise<string> {
    await admin.get('/admin/auth/ldap/new');
    const response = await admin.post('/admin/auth/ldap', slapdForm(overrides));
    expect(response.statusCode, response.body).toBe(303);
    return response.headers.location!.split('/').pop()!;
  }

  it('lists the providers for auth_view, with the Add link and the nav link only as far as one may go', async () => {
    const id = await addDirectory({ name: unique('Listed'), sort_order: '7' });
    const list = await admin.get('/admin/auth');
    expect(list.statusCode).toBe(200);
    expectElement(list.body, 'a', { href: '/admin/auth/ldap/new' });
    expectElement(list.body, 'a', { href: '/admin/auth' }); // the nav link
    expect(list.body).toContain(`href="/admin/auth/${id}"`);
    expect(list.body).toMatch(/<td>LDAP<\/td>\s*<td>No<\/td>\s*<td>7<\/td>\s*<td>Never<\/td>/);

    await createGroup(db(), { name: unique('Auth viewers'), permissions: ['auth_view'] }).then(async (group) => {
      const viewer = await seedUser(db(), unique('viewer').replace(' ', '-'), USER_PASSWORD);
      await db().insert(userGroups).values({ userId: viewer.id, groupId: group.id });
      const client = await loggedInClient(t.app, viewer.username);
      const seen = await client.get('/admin/auth');
      expect(seen.statusCode).toBe(200);
      expect(seen.body).not.toContain('href="/admin/auth/ldap/new"');
      const page = await client.get(`/admin/auth/${id}`);
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<fieldset class="grid" disabled>');
      expect(page.body).not.toContain(`action="/admin/auth/${id}/sync"`);
      expect(page.body).not.toContain(`action="/admin/auth/${id}/test"`);
      expect((await client.post(`/admin/auth/${id}/sync`)).statusCode).toBe(403);
      expect((await client.get('/admin/auth/ldap/new')).statusCode).toBe(403);
    });
    const plain = await seedUser(db(), unique('plain').replace(' ', '-'), USER_PASSWORD);
    const plainClient = await loggedInClient(t.app, plain.username);
    expect((await plainClient.get('/')).body).not.toContain('href="/admin/auth"');
  });

  it('refuses a bad form with 422, each error beside its field, the values kept but never the password', async () => {
    const typedSecret = 'typed-secret-never-echoed-1';
    await admin.get('/admin/auth/ldap/new');
    const name = unique('Broken');
    const response = await admin.post(
      '/admin/auth/ldap',
      slapdForm({
        name,
        urls: 'ldap://ldap.corp.example',
        bind_password: typedSecret,
        user_search_base: '',
        user_filter: '(uid=alice)',
        connect_timeout_ms: 'soon',
        sync_interval_minutes: '2',
      }),
    );
    expect(response.statusCode).toBe(422);
    for (const [field, message] of [
      ['urls', 'would send passwords unencrypted'],
      ['user_search_base', 'A search base is required.'],
      ['user_filter', 'The filter must contain {username}.'],
      ['connect_timeout_ms', 'Between 100 and 60000 ms.'],
      ['sync_interval_minutes', '0 (off), or between 5 and 10080'],
    ]) {
      expectElement(response.body, 'p', { class: 'error', id: `e-${field}` });
      expect(response.body).toContain(message!);
    }
    expectElement(response.body, 'input', { name: 'name', value: name });
    expect(response.body).toContain('ldap://ldap.corp.example</textarea>');
    expectElement(response.body, 'input', { name: 'connect_timeout_ms', value: 'soon' });
    expectElement(response.body, 'input', { name: 'bind_password', value: '' });
    expect(response.body).not.toContain(typedSecret);
    expect(await db().select().from(identityProviders).where(eq(identityProviders.name, name))).toEqual([]);
  });

  it('fills the form from a preset without JavaScript, keeping the URLs, DN, base and name typed', async () => {
    const fromLink = await admin.get('/admin/auth/ldap/new?preset=freeipa');
    expectElement(fromLink.body, 'input', { name: 'attr_immutable_id', value: 'ipaUniqueID' });
    const typed = slapdForm({ name: 'Typed Name', bind_password: 'typed-secret-never-echoed-2' });
    const response = await admin.post('/admin/auth/ldap', { ...typed, preset: 'active-directory' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toContain('Active Directory defaults filled in.');
    expectElement(response.body, 'input', { name: 'attr_immutable_id', value: 'objectGUID' });
    expectElement(response.body, 'input', { name: 'attr_username', value: 'sAMAccountName' });
    expect(response.body).toContain('sAMAccountName={username}');
    expectElement(response.body, 'input', { name: 'name', value: 'Typed Name' });
    expectElement(response.body, 'input', { name: 'bind_dn', value: SERVICE_DN });
    expectElement(response.body, 'input', { name: 'user_search_base', value: PEOPLE });
    expect(response.body).toContain(`${slapd.ldapsUrl}</textarea>`);
    expect(response.body).not.toContain('typed-secret-never-echoed-2');
    expect(await db().select().from(identityProviders).where(eq(identityProviders.name, 'Typed Name'))).toEqual([]);
  });

  it('never shows, answers or audits the bind password, on the page, in the API or in the audit log', async () => {
    const secret = `bind-secret-${crypto.randomUUID()}`;
    const id = await addDirectory({ bind_password: secret, enabled: 'true' });
    const page = await admin.get(`/admin/auth/${id}`);
    expect(page.body).toContain('Directory');
    expect(page.body).toContain('Set — leave empty to keep it.');
    expectElement(page.body, 'input', { name: 'clear_password', type: 'checkbox' });
    expect(page.body).not.toContain(secret);
    expect((await providerRow(id))?.enabled).toBe(true);
    expect(JSON.stringify((await providerRow(id))?.config)).not.toContain(secret);

    const key = await insertApiKey(db(), { permissions: ['auth_view'] });
    const answer = await callApi(t.app, key, 'get_auth_providers');
    expect(answer.statusCode).toBe(200);
    expect(answer.body).not.toContain(secret);
    const mine = answer
      .json()
      .auth_providers.find((p: { provider_id: string }) => p.provider_id === id.replace(/-/g, ''));
    expect(mine).toEqual({
      provider_id: id.replace(/-/g, ''),
      kind: 'ldap',
      name: (await providerRow(id))!.name,
      enabled: true,
      order: 10,
      last_sync_at: null,
      last_sync: null,
    });
    const noKey = await callApi(t.app, await insertApiKey(db(), { permissions: ['users_view'] }), 'get_auth_providers');
    expect(noKey.statusCode).toBe(403);

    // Saved again with a new password: still never shown, and the audit log says only "replaced".
    const replaced = `replaced-${secret}`;
    await admin.get(`/admin/auth/${id}`);
    const saved = await admin.post(`/admin/auth/${id}`, {
      ...slapdForm({ bind_password: replaced, enabled: 'true' }),
      version: '2',
    });
    expect(saved.statusCode, saved.body).toBe(303);
    expect((await admin.get(`/admin/auth/${id}`)).body).not.toContain(replaced);
    const audit = await db().select().from(auditEvents).where(eq(auditEvents.targetId, id));
    expect(audit.length).toBeGreaterThan(1);
    expect(JSON.stringify(audit)).not.toContain(secret);
    expect(audit.some((event) => (event.details as { password?: string }).password === 'replaced')).toBe(true);
    const auditPage = await admin.get('/admin/audit');
    expect(auditPage.body).not.toContain(secret);
  });

  it('saves with the version it was based on; a stale form is a 409 with its values kept', async () => {
    const id = await addDirectory();
    await admin.get(`/admin/auth/${id}`);
    const renamed = unique('Renamed');
    const saved = await admin.post(`/admin/auth/${id}`, {
      ...slapdForm({ name: renamed, bind_password: '' }),
      version: '1',
    });
    expect(saved.statusCode, saved.body).toBe(303);
    const page = await admin.get(`/admin/auth/${id}`);
    expect(page.body).toContain(`Directory ${renamed} saved.`);
    expect((await providerRow(id))?.secret).not.toBeNull(); // empty kept it
    const stale = await admin.post(`/admin/auth/${id}`, {
      ...slapdForm({ name: 'Someone Else', bind_password: '' }),
      version: '1',
    });
    expect(stale.statusCode).toBe(409);
    expect(stale.body).toContain('was changed by someone else since the form was opened');
    expectElement(stale.body, 'input', { name: 'name', value: 'Someone Else' });
    expect((await providerRow(id))?.name).toBe(renamed);
  });

  it('enables and disables with a button, and refuses a stale one', async () => {
    const id = await addDirectory();
    const page = await admin.get(`/admin/auth/${id}`);
    expectElement(page.body, 'form', { action: `/admin/auth/${id}/enable` });
    const enabled = await admin.post(`/admin/auth/${id}/enable`, { version: '1' });
    expect(enabled.statusCode).toBe(303);
    expect((await admin.get(`/admin/auth/${id}`)).body).toContain('enabled.');
    expect((await providerRow(id))?.enabled).toBe(true);
    const stale = await admin.post(`/admin/auth/${id}/disable`, { version: '1' });
    expect(stale.statusCode).toBe(409);
    expect((await providerRow(id))?.enabled).toBe(true);
    const disabled = await admin.post(`/admin/auth/${id}/disable`, { version: '2' });
    expect(disabled.statusCode).toBe(303);
    expect((await providerRow(id))?.enabled).toBe(false);
  });

  it('deletes after a confirm step', async () => {
    const id = await addDirectory();
    const name = (await providerRow(id))!.name;
    const confirm = await admin.get(`/admin/auth/${id}/delete`);
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`Delete directory ${name}?`);
    expect(await providerRow(id)).toBeDefined();
    const deleted = await admin.post(`/admin/auth/${id}/delete`);
    expect(deleted.statusCode).toBe(303);
    expect(deleted.headers.location).toBe('/admin/auth');
    expect(await providerRow(id)).toBeUndefined();
    expect((await admin.get('/admin/auth')).body).toContain(`Directory ${name} deleted.`);
  });

  it('tests a user name with the service account: DN, immutable id, attributes and groups, nothing saved', async () => {
    const id = await addDirectory();
    const before = await providerRow(id);
    await admin.get(`/admin/auth/${id}`);
    const found = await admin.post(`/admin/auth/${id}/test`, { username: 'alice' });
    expect(found.statusCode).toBe(200);
    expect(found.body).toContain('<html'); // JavaScript off: the whole page
    const expected = await testConnection(slapdLdapConfig(slapd), 'alice');
    if (!expected.ok) throw new Error(expected.message);
    expect(found.body).toContain(`uid=alice,${PEOPLE}`);
    expect(found.body).toContain(expected.user.immutableId);
    expect(found.body).toContain('alice@example.test');
    expect(found.body).toContain(`cn=engineers,${GROUPS}`);
    expect(found.body).toContain(`cn=everyone,${GROUPS}`); // nested, recursively
    expect(found.body).not.toContain(SERVICE_PASSWORD);
    expectElement(found.body, 'input', { name: 'username', value: 'alice' });

    // htmx: the Test section alone, in place, as often as asked.
    for (const username of ['bob', 'nobody', 'bob']) {
      const fragment = await admin.post(`/admin/auth/${id}/test`, { username }, HTMX);
      expect(fragment.statusCode).toBe(200);
      expect(fragment.body).not.toContain('<html');
      expect(fragment.body.trimStart().startsWith('<section id="test"')).toBe(true);
      expectElement(fragment.body, 'form', { 'hx-post': `/admin/auth/${id}/test`, 'hx-target': '#test' });
      expect(fragment.body).toContain(username === 'nobody' ? 'User not found' : `uid=bob,${PEOPLE}`);
    }
    const empty = await admin.post(`/admin/auth/${id}/test`, { username: ' ' }, HTMX);
    expect(empty.statusCode).toBe(422);
    expectElement(empty.body, 'p', { class: 'error', id: 'e-username' });
    expect(await providerRow(id)).toEqual(before);
    expect(await db().select().from(userIdentities).where(eq(userIdentities.providerId, id))).toEqual([]);
  });

  it('says the directory is unavailable, within the timeout, when it does not answer', async () => {
    const closed = await addDirectory({ urls: 'ldaps://127.0.0.1:1', connect_timeout_ms: '500' });
    await admin.get(`/admin/auth/${closed}`);
    const refused = await admin.post(`/admin/auth/${closed}/test`, { username: 'alice' }, HTMX);
    expect(refused.body).toContain('Directory unavailable');

    const paused = await addDirectory({ connect_timeout_ms: '500', operation_timeout_ms: '500' });
    slapd.pause();
    try {
      const started = Date.now();
      const response = await admin.post(`/admin/auth/${paused}/test`, { username: 'alice' });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('Directory unavailable');
      expect(response.body).not.toContain(SERVICE_PASSWORD);
    } finally {
      slapd.resume();
    }
  });

  it('syncs now: JavaScript off redirects to the report; htmx swaps the Sync section, again and again', async () => {
    const id = await addDirectory({ enabled: 'true' });
    const page = await admin.get(`/admin/auth/${id}`);
    expect(page.body).toContain('Never synced.');
    const synced = await admin.post(`/admin/auth/${id}/sync`);
    expect(synced.statusCode).toBe(303);
    expect(synced.headers.location).toBe(`/admin/auth/${id}#sync`);
    const after = await admin.get(`/admin/auth/${id}`);
    expect(after.body).toMatch(/Sync of .* completed: \d+ seen, 0 updated, 0 disabled, 0 enabled, 0 errors\./);
    expect(after.body).toMatch(/<dt>Last sync<\/dt><dd>Completed, \d{4}-\d\d-\d\d \d\d:\d\d UTC<\/dd>/);
    expect((await providerRow(id))?.lastSync).toMatchObject({ outcome: 'completed' });
    for (let round = 0; round < 2; round++) {
      const fragment = await admin.post(`/admin/auth/${id}/sync`, {}, HTMX);
      expect(fragment.statusCode).toBe(200);
      expect(fragment.body).not.toContain('<html');
      expect(fragment.body.trimStart().startsWith('<section id="sync"')).toBe(true);
      expectElement(fragment.body, 'form', { 'hx-post': `/admin/auth/${id}/sync`, 'hx-target': '#sync' });
      expect(fragment.body).toContain('<dt>Seen</dt>');
    }
    const list = await admin.get('/admin/auth');
    expect(list.body).toMatch(/Completed, \d{4}-\d\d-\d\d \d\d:\d\d UTC/);

    const failing = await addDirectory({ urls: 'ldaps://127.0.0.1:1', connect_timeout_ms: '300' });
    await admin.post(`/admin/auth/${failing}/sync`);
    const failed = await admin.get(`/admin/auth/${failing}`);
    expect(failed.body).toContain('failed:');
    expect(failed.body).toMatch(/<dt>Last sync<\/dt><dd>Failed/);
    expect(failed.body).not.toContain(SERVICE_PASSWORD);
  });

  // On one PGlite connection a second transaction waits for the first; the lock matters between processes.
  it.skipIf(!process.env.TEST_DATABASE_URL)('says a sync is already running when another holds the lock', async () => {
    const id = await addDirectory();
    await admin.get(`/admin/auth/${id}`);
    const [plain, fragment] = await db().transaction(async (other) => {
      await other.execute(sql`select pg_advisory_xact_lock(hashtext('roster:directory-sync'), hashtext(${id}))`);
      return [await admin.post(`/admin/auth/${id}/sync`), await admin.post(`/admin/auth/${id}/sync`, {}, HTMX)];
    });
    expect(plain.statusCode).toBe(409);
    expect(plain.body).toContain('A sync of this directory is already running');
    expect(fragment.statusCode).toBe(409);
    expect(fragment.body.trimStart().startsWith('<section id="sync"')).toBe(true);
    expect(fragment.body).toContain('A sync of this directory is already running');
  });

  it('syncs the enabled directories whose interval has passed (runDueSyncs), as the system', async () => {
    const id = await addDirectory({ enabled: 'true', sync_interval_minutes: '5' });
    const off = await addDirectory({ sync_interval_minutes: '5' }); // disabled: never synced by the scheduler
    const uid = `s${crypto.randomUUID().slice(0, 8)}`;
    await slapd.add(`uid=${uid},${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid,
      cn: uid,
      sn: 'Synced',
      mail: `${uid}@example.test`,
    });
    const entry = await testConnection(slapdLdapConfig(slapd), uid);
    if (!entry.ok) throw new Error(entry.message);
    const [user] = await db()
      .insert(users)
      .values({ username: uid, realm: 'ldap', email: 'old@example.test' })
      .returning();
    await db().insert(userIdentities).values({ userId: user!.id, providerId: id, subject: entry.user.immutableId });

    const start = t.clock.now();
    const first = await runDueSyncs(db(), t.app.secretBox, start);
    const mine = first.find((r) => r.providerId === id);
    expect(mine?.result.ok && mine.result.value).toMatchObject({ outcome: 'completed', updated: 1 });
    expect(first.some((r) => r.providerId === off)).toBe(false);
    expect((await db().select().from(users).where(eq(users.id, user!.id)))[0]?.email).toBe(`${uid}@example.test`);
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(sql`${auditEvents.action} = 'directory_synced' and ${auditEvents.targetId} = ${id}`);
    expect(event?.actorName).toBe('system:directory-sync');

    expect((await runDueSyncs(db(), t.app.secretBox, start + 4 * 60_000)).some((r) => r.providerId === id)).toBe(false);
    expect((await runDueSyncs(db(), t.app.secretBox, start + 5 * 60_000)).some((r) => r.providerId === id)).toBe(true);
  });
});

describe('the directory sync scheduler', () => {
  it('starts with the app when configured, and stops when the app closes', async () => {
    const scheduled = await createTestApp({ DIRECTORY_SYNC_SCHEDULER: 'true' });
    expect(scheduled.config.directorySyncScheduler).toBe(true);
    await scheduled.close(); // clears its interval: the test process is not held open
  });
});
