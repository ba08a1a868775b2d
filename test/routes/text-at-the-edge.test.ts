// One rule for text at the edge (issue 18, findings 4 and 10): NUL in any string of a request is
// a 400 naming the field, in the route's own style, before the key or the user is looked up;
// names and paths refuse invisible, noncharacter and unassigned code points, user names are
// NFC and may not mix lookalike scripts, SSH key comments carry no escape sequences. The walk
// over every leaf of every route is test/routes/malformed-input-deep.test.ts.
import { count, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, groups, users } from '../../src/db/schema.js';
import { callApi, insertApiKey, type TestApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { expectLeadingElement, textContent } from '../helpers/html.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;
let key: TestApiKey;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
  key = await insertApiKey(t.handle.db, { permissions: ['global_admin'] });
});
afterAll(() => t.close());

const auditRows = async () => (await t.handle.db.select({ n: count() }).from(auditEvents))[0]!.n;
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

describe('NUL at the edge', () => {
  it('answers an API call as JSON naming the field, before the key is checked (no key, no audit row)', async () => {
    const before = await auditRows();
    const cases: Array<[Record<string, unknown>, Record<string, string>, string]> = [
      [{ api_key: 'k\u0000', api_key_secret: 's' }, {}, 'api_key'],
      [{ api_key: 'k', api_key_secret: 's\u0000' }, {}, 'api_key_secret'],
      [
        { api_key: key.key, api_key_secret: key.secret, target_user: { username: 'a\u0000' } },
        {},
        'target_user.username',
      ],
      [{}, { authorization: basic('k\u0000:s') }, 'The HTTP Basic key'],
      [{}, { authorization: basic(`${key.key}:s\u0000`) }, 'The HTTP Basic secret'],
      [{}, { 'api-key': 'k\u0000', 'api-key-secret': 's' }, 'The api-key header'],
    ];
    for (const [payload, headers, field] of cases) {
      const response = await t.app.inject({ method: 'POST', url: '/api/public/get_user', payload, headers });
      expect(response.statusCode, field).toBe(400);
      expect(response.json(), field).toEqual({ error_message: `${field} must not contain a NUL character.` });
    }
    expect(await auditRows()).toBe(before);
  });

  it('answers a page with the error page, htmx with the alert fragment, an anonymous visitor before login', async () => {
    const page = await admin.get('/admin/users?q=a%00b');
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('<title>Bad request · Roster</title>');
    expect(page.body).toContain('q must not contain a NUL character.');
    const fragment = await admin.get('/admin/users?q=%00', { 'hx-request': 'true' });
    expect(fragment.statusCode).toBe(400);
    const alert = expectLeadingElement(
      fragment.body,
      'p',
      { class: 'flash flash-error', role: 'alert' },
      { only: true },
    );
    expect(textContent(fragment.body, alert)).toBe('q must not contain a NUL character.');
    expect((await new TestClient(t.app).get('/admin/users?q=%00')).statusCode).toBe(400); // not a login redirect
    const form = await admin.post('/admin/groups', { name: 'Edge', priority: '901', description: 'one\u0000two' });
    expect(form.statusCode).toBe(400);
    expect(form.body).toContain('description must not contain a NUL character.');
    expect(await t.handle.db.select().from(groups).where(eq(groups.name, 'Edge'))).toHaveLength(0);
  });

  it('names a NUL in a field name and in an array item', async () => {
    await admin.get('/admin/groups/new');
    const list = await admin.post('/admin/groups', { name: 'Edge', priority: '902', 'x\u0000y': '1' });
    expect(list.body).toContain('x\\0y must not contain a NUL character.');
    const item = await callApi(t.app, key, 'get_groups', { extra: ['fine', 'a\u0000'] });
    expect(item.json()).toEqual({ error_message: 'extra[1] must not contain a NUL character.' });
  });
});

describe('names at the edge', () => {
  it('refuses a Cyrillic а beside admin by form and by API, beside the field, storing nothing', async () => {
    await admin.get('/admin/users/new');
    const form = await admin.post('/admin/users', { username: '\u0430dmin', password: USER_PASSWORD, realm: 'local' });
    expect(form.statusCode).toBe(422);
    expect(form.body).toContain('User Name mixes Latin and Cyrillic letters');
    const api = await callApi(t.app, key, 'create_user', {
      target_user: { username: '\u0430dmin', password: USER_PASSWORD },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json<{ error_message: string }>().error_message).toContain(
      'target_user.username: User Name mixes Latin and Cyrillic letters',
    );
    expect(await t.handle.db.select().from(users).where(eq(users.username, '\u0430dmin'))).toHaveLength(0);
  });

  it('stores user names in NFC: a decomposed é is the same name, found by login and by the API', async () => {
    const created = await callApi(t.app, key, 'create_user', {
      target_user: { username: 'Jose\u0301 Edge', password: USER_PASSWORD },
    });
    expect(created.statusCode).toBe(200);
    expect(await t.handle.db.select().from(users).where(eq(users.username, 'Jos\u00e9 Edge'))).toHaveLength(1);
    const again = await callApi(t.app, key, 'create_user', {
      target_user: { username: 'Jos\u00e9 edge', password: USER_PASSWORD },
    });
    expect(again.statusCode).toBe(409);
    expect((await callApi(t.app, key, 'get_user', { target_user: { username: 'jose\u0301 edge' } })).statusCode).toBe(
      200,
    );
    expect((await new TestClient(t.app).login('Jose\u0301 Edge', USER_PASSWORD)).headers.location).toBe('/');
  });

  it('refuses invisible and noncharacter code points in group, workspace, key and mapping names and paths', async () => {
    const cases: Array<[string, string, Record<string, string>, string]> = [
      [
        '/admin/groups/new',
        '/admin/groups',
        { name: 'Edge\u200BGroup', priority: '903' },
        'Name must not contain U+200B',
      ],
      [
        '/admin/workspaces/new',
        '/admin/workspaces',
        { friendly_name: 'Edge\u202E', image: 'kasmweb/chrome:1.16.0', cores: '1', memory_mb: '1024' },
        'Friendly Name must not contain U+202E',
      ],
      ['/admin/api-keys/new', '/admin/api-keys', { name: 'key\uFFFF' }, 'Name must not contain U+FFFF'],
    ];
    for (const [formUrl, url, form, message] of cases) {
      await admin.get(formUrl);
      const response = await admin.post(url, form);
      expect(response.statusCode, url).toBe(422);
      expect(response.body, url).toContain(message);
    }
    const adminRow = (await t.handle.db.select().from(users).where(eq(users.username, 'admin')))[0]!;
    for (const [fields, message] of [
      [{ name: 'map\uFFFE', destination_path: '/a' }, 'Name must not contain U+FFFE'],
      [{ name: 'map', destination_path: '/home/\u200Bx' }, 'Destination Path must not contain U+200B'],
    ] as const) {
      await admin.get(`/admin/users/${adminRow.id}/file-mappings/new`);
      const response = await admin.post(`/admin/users/${adminRow.id}/file-mappings`, { ...fields, content: 'x' });
      expect(response.statusCode).toBe(422);
      expect(response.body).toContain(message);
    }
  });

  it('refuses ESC in an SSH key comment on the profile and by update_user_attributes', async () => {
    const line =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice\u001b[2J@laptop';
    await admin.get('/profile');
    const profile = await admin.post('/profile/settings/ssh_public_key', { value: line, action: 'save' });
    expect(profile.statusCode).toBe(422);
    expect(profile.body).toContain('SSH Public Key comment must not contain control characters.');
    const adminRow = (await t.handle.db.select().from(users).where(eq(users.username, 'admin')))[0]!;
    const api = await callApi(t.app, key, 'update_user_attributes', {
      target_user_attributes: { user_id: adminRow.id, ssh_public_key: line },
    });
    expect(api.statusCode).toBe(400);
    expect(api.json<{ error_message: string }>().error_message).toContain(
      'SSH Public Key comment must not contain control characters.',
    );
  });
});
