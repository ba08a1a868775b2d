// The Developer API (docs/rules.md#developer-api): API keys made on their pages, and every call as a script makes
// it — success, a bad body, a missing permission, a read-only key, an expired and a disabled
// key — with the same rules and audit events as the forms. Each test makes what it needs.
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CALLS, isReadCall } from '../../src/api/api-calls.js';
import { referenceOf } from '../../src/api/api-reference.js';
import {
  apiKeys,
  auditEvents,
  groupMappings,
  groups,
  userGroups,
  userSettings,
  users,
  workspaces,
  workspaceSessions,
} from '../../src/db/schema.js';
import { PERMISSIONS } from '../../src/security/permissions.js';
import { callApi, insertApiKey, type TestApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { type AttributeValue, expectElement, expectLeadingElement } from '../helpers/html.js';
import { createGroup, createIdentityProvider, fixtures, loggedInClient } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;
let counter = 0;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { createUser, lastAudit, findUser } = fixtures(
  () => t,
  () => admin,
);
const unique = (name: string) => `${name}-${++counter}`;
const dashless = (id: string) => id.replaceAll('-', '');

/** A key holding everything a provisioning script needs (global_admin is the simplest). */
const fullKey = () => insertApiKey(t.handle.db, { permissions: ['global_admin'] });

async function makeWorkspace(fields: Partial<typeof workspaces.$inferInsert> = {}) {
  const [row] = await t.handle.db
    .insert(workspaces)
    .values({ friendlyName: unique('Desktop'), image: 'kasmweb/desktop:1.16.0', ...fields })
    .returning();
  return row!;
}

/** A body for each call that passes its schema, naming `target` (a user), `group` and `session`. */
function validBody(
  call: string,
  ids: {
    user: string;
    group: string;
    memberOf: string;
    session: string;
    image: string;
    provider: string;
    mapping: string;
  },
): Record<string, unknown> {
  const bodies: Record<string, Record<string, unknown>> = {
    create_user: { target_user: { username: unique('made'), password: USER_PASSWORD } },
    get_user: { target_user: { user_id: ids.user } },
    get_users: {},
    update_user: { target_user: { user_id: ids.user, first_name: 'Changed' } },
    delete_user: { target_user: { user_id: ids.user }, force: true },
    logout_user: { target_user: { user_id: ids.user } },
    get_attributes: { target_user: { user_id: ids.user } },
    update_user_attributes: { target_user_attributes: { user_id: ids.user, theme: 'Dark' } },
    add_user_group: { target_user: { user_id: ids.user }, target_group: { group_id: ids.group } },
    remove_user_group: { target_user: { user_id: ids.user }, target_group: { group_id: ids.memberOf } },
    get_groups: {},
    get_group: { target_group: { group_id: ids.group } },
    get_group_mappings: { target_group: { group_id: ids.memberOf } },
    add_group_mapping: {
      target_group: { group_id: ids.group },
      target_group_mapping: { provider_id: ids.provider, all_users: false, group_dn: 'cn=Ops, dc=corp' },
    },
    delete_group_mapping: { target_group_mapping: { group_mapping_id: ids.mapping } },
    get_images: {},
    request_kasm: { user_id: ids.user, image_id: ids.image },
    get_kasm_status: { kasm_id: ids.session },
    get_kasms: {},
    destroy_kasm: { kasm_id: ids.session },
    keepalive: { kasm_id: ids.session },
  };
  return bodies[call]!;
}

async function fixturesForCalls() {
  const user = await createUser(unique('target'));
  const group = await createGroup(t.handle.db, { name: unique('API Group'), priorityFrom: 300 });
  const memberOf = await createGroup(t.handle.db, { name: unique('API Group'), priorityFrom: 300 });
  await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: memberOf.id });
  const image = await makeWorkspace();
  const [session] = await t.handle.db
    .insert(workspaceSessions)
    .values({ userId: user.id, workspaceId: image.id, workspaceName: image.friendlyName, plan: { settings: [] } })
    .returning();
  // An SSO group mapping of a directory into memberOf.
  const provider = await createIdentityProvider(t.handle.db);
  const [mapping] = await t.handle.db
    .insert(groupMappings)
    .values({ groupId: memberOf.id, providerId: provider.id, groupDn: 'cn=Ops,dc=corp', matchKey: 'cn=ops,dc=corp' })
    .returning();
  return {
    user: user.id,
    group: group.id,
    memberOf: memberOf.id,
    session: session!.id,
    image: image.id,
    provider: provider.id,
    mapping: mapping!.id,
  };
}

describe('API keys (admin pages)', () => {
  it('shows the secret once, stores only its hash, and lists the key', async () => {
    await admin.get('/admin/api-keys/new');
    const created = await admin.post('/admin/api-keys', {
      name: unique('Provisioner'),
      read_only: 'true',
      expires: '2099-01-31',
    });
    expect(created.statusCode).toBe(201);
    expect(created.body).toContain('cannot be shown again');
    // Each shown read-only in a text field right after its label.
    const shownIn = (id: string, label: string) => {
      const labelTag = expectElement(created.body, 'label', { for: id }, { only: true, text: label });
      const afterLabel = created.body.slice(created.body.indexOf('</label>', labelTag.end) + '</label>'.length);
      const field: Record<string, AttributeValue> = { id, type: 'text', value: /[^"]+/, readonly: true };
      return expectLeadingElement(afterLabel, 'input', field, { leadingSpace: true }).attributes.value!;
    };
    const key = shownIn('api-key', 'API Key');
    const secret = shownIn('api-key-secret', 'API Key Secret');
    // 12 and 32 random bytes, base64url.
    expect(key).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [row] = await t.handle.db.select().from(apiKeys).where(eq(apiKeys.key, key));
    expect(row).toMatchObject({
      readOnly: true,
      enabled: true,
      createdByName: 'admin',
      expiresAt: new Date('2099-01-31T00:00:00Z'),
    });
    expect(JSON.stringify(row)).not.toContain(secret);
    const page = await admin.get(`/admin/api-keys/${row!.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(key);
    expect(page.body).not.toContain(secret);
    const list = await admin.get('/admin/api-keys');
    for (const heading of ['Name', 'Enabled', 'Read-Only', 'Expires', 'Last Used', 'Created By'])
      expect(list.body).toContain(`<th scope="col">${heading}</th>`);
    expect(list.body).toContain(row!.name);
    expect((await lastAudit('api_key_created', row!.id))?.actorName).toBe('admin');
  });

  it('keeps the typed values with an error beside the field', async () => {
    await admin.get('/admin/api-keys/new');
    const name = unique('Dup');
    await admin.post('/admin/api-keys', { name });
    await admin.get('/admin/api-keys/new');
    const duplicate = await admin.post('/admin/api-keys', { name: name.toUpperCase(), expires: 'next tuesday' });
    expect(duplicate.statusCode).toBe(422);
    expect(duplicate.body).toContain('Expires must be a date');
    expect(duplicate.body).toContain('value="next tuesday"');
    const taken = await admin.post('/admin/api-keys', { name: name.toUpperCase() });
    expect(taken.statusCode).toBe(409);
    expect(taken.body).toContain('An API key with this Name already exists');
    const past = await admin.post('/admin/api-keys', { name: unique('Past'), expires: '2001-01-01' });
    expect(past.body).toContain('Expires must be in the future.');
  });

  it('grants only permissions the admin holds (no way up), and audits a refusal', async () => {
    const group = await createGroup(t.handle.db, {
      name: unique('API Group'),
      priorityFrom: 300,
      permissions: ['devapi_view', 'devapi_modify', 'users_view'],
    });
    const helper = await createUser(unique('helper'));
    await t.handle.db.insert(userGroups).values({ userId: helper.id, groupId: group.id });
    const key = await insertApiKey(t.handle.db, { permissions: [] });
    const client = await loggedInClient(t.app, helper.username, { visit: null });
    const page = await client.get(`/admin/api-keys/${key.id}`);
    expectElement(page.body, '*', { id: 'perm-users_delete', disabled: true });
    expect(
      (await client.post(`/admin/api-keys/${key.id}/permissions`, { permission: ['users_view'] })).statusCode,
    ).toBe(303);
    const refused = await client.post(`/admin/api-keys/${key.id}/permissions`, {
      permission: ['users_view', 'users_delete'],
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('users_delete');
    expect((await lastAudit('authz_fail', key.id))?.actorId).toBe(helper.id);
    const held = await t.handle.db.select().from(apiKeys).where(eq(apiKeys.id, key.id));
    expect(held).toHaveLength(1);
    expect((await callApi(t.app, key, 'delete_user', { target_user: { user_id: helper.id } })).statusCode).toBe(403);
  });

  it('disables, re-enables and deletes a key: each takes effect on the next call', async () => {
    const key = await fullKey();
    const { id } = key;
    expect((await callApi(t.app, key, 'get_images')).statusCode).toBe(200);
    await admin.get(`/admin/api-keys/${id}`);
    const name = (await t.handle.db.select().from(apiKeys).where(eq(apiKeys.id, id)))[0]!.name;
    expect((await admin.post(`/admin/api-keys/${id}`, { name })).statusCode).toBe(303); // Enabled unticked
    const disabled = await callApi(t.app, key, 'get_images');
    expect(disabled.statusCode).toBe(401);
    expect(disabled.json()).toEqual({ error_message: 'This API key is disabled.' });
    await admin.get(`/admin/api-keys/${id}`);
    await admin.post(`/admin/api-keys/${id}`, { name, enabled: 'true' });
    expect((await callApi(t.app, key, 'get_images')).statusCode).toBe(200);
    const confirm = await admin.get(`/admin/api-keys/${id}/delete`);
    expect(confirm.body).toContain(`Delete API key ${name}?`);
    expect((await admin.post(`/admin/api-keys/${id}/delete`)).statusCode).toBe(303);
    expect((await callApi(t.app, key, 'get_images')).statusCode).toBe(401);
    expect(await lastAudit('api_key_deleted', id)).toMatchObject({
      actorType: 'user',
      actorName: 'admin',
      outcome: 'success',
      targetType: 'api_key',
      targetId: id,
      targetName: name,
      details: {},
    });
  });

  it('records Last Used, at most once a minute', async () => {
    const key = await fullKey();
    await callApi(t.app, key, 'get_images');
    const first = (await t.handle.db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0]!.lastUsedAt;
    expect(first).toEqual(new Date(t.clock.now())); // the app's clock
    await callApi(t.app, key, 'get_images');
    expect((await t.handle.db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0]!.lastUsedAt).toEqual(first);
  });
});

describe('authentication', () => {
  it('takes the key in the body or as HTTP Basic; refuses a wrong secret, a cookie and a form body', async () => {
    const key = await fullKey();
    expect(
      (
        await t.app.inject({
          method: 'POST',
          url: '/api/public/get_images',
          payload: {},
          headers: { authorization: key.basic },
        })
      ).statusCode,
    ).toBe(200);
    const wrong = await callApi(t.app, { key: key.key, secret: 'not the secret' }, 'get_images');
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error_message: 'Invalid API key or secret.' });
    const cookieOnly = await t.app.inject({
      method: 'POST',
      url: '/api/public/get_images',
      payload: {},
      headers: { cookie: admin.cookieHeader(), 'x-csrf-token': admin.csrf },
    });
    expect(cookieOnly.statusCode).toBe(401);
    const form = await t.app.inject({
      method: 'POST',
      url: '/api/public/get_images',
      payload: `api_key=${key.key}&api_key_secret=${key.secret}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.statusCode).toBe(415);
    const unknown = await callApi(t.app, key, 'get_everything');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error_message: 'No such API call.' });
    const huge = await callApi(t.app, key, 'get_images', { padding: 'x'.repeat(100 * 1024) });
    expect(huge.statusCode).toBe(413);
    expect(huge.json()).toEqual({ error_message: 'Request body is too large' });
  });

  it('refuses every call with an expired or a disabled key (401), and writes with a read-only key (403)', async () => {
    const ids = await fixturesForCalls();
    const expiring = await insertApiKey(t.handle.db, {
      permissions: ['global_admin'],
      expiresAt: new Date(t.clock.now() + 60_000),
    });
    const disabled = await insertApiKey(t.handle.db, { permissions: ['global_admin'], enabled: false });
    const readOnly = await insertApiKey(t.handle.db, { permissions: ['global_admin'], readOnly: true });
    expect((await callApi(t.app, expiring, 'get_images')).statusCode).toBe(200);
    t.clock.advance(61_000);
    for (const call of API_CALLS) {
      const body = validBody(call.name, ids);
      const expired = await callApi(t.app, expiring, call.name, body);
      expect(expired.statusCode, call.name).toBe(401);
      expect(expired.json()).toEqual({ error_message: 'This API key has expired.' });
      expect((await callApi(t.app, disabled, call.name, body)).statusCode, call.name).toBe(401);
      const read = await callApi(t.app, readOnly, call.name, isReadCall(call.name) ? body : { ...body });
      if (isReadCall(call.name)) expect(read.statusCode, `${call.name} ${read.body}`).toBe(200);
      else {
        expect(read.statusCode, call.name).toBe(403);
        expect(read.json().error_message).toContain('read-only');
      }
    }
    expect(await t.handle.db.select().from(users).where(eq(users.id, ids.user))).toHaveLength(1); // nothing was written
  });

  it('refuses each call without its permission (403, audited), and answers it with the permission', async () => {
    for (const call of API_CALLS) {
      const ids = await fixturesForCalls();
      // Everything but the call's permission (and global_admin, which implies it).
      const lacking = await insertApiKey(t.handle.db, {
        permissions: PERMISSIONS.filter((p) => p !== call.permission && p !== 'global_admin'),
      });
      const refused = await callApi(t.app, lacking, call.name, validBody(call.name, ids));
      expect(refused.statusCode, call.name).toBe(403);
      expect(refused.json().error_message).toContain(call.permission);
      // In plain words: the call, the permission, and that this key lacks it.
      expect(refused.json().error_message, call.name).toBe(
        `${call.name} needs the API key permission ${call.permission}; this key does not hold it.`,
      );
      const [audit] = await t.handle.db
        .select()
        .from(auditEvents)
        .where(eq(auditEvents.actorId, lacking.id))
        .orderBy(desc(auditEvents.id))
        .limit(1);
      expect(audit, call.name).toMatchObject({ action: 'authz_fail', actorType: 'api_key' });
      const allowed = await callApi(t.app, await fullKey(), call.name, validBody(call.name, ids));
      expect(allowed.statusCode, `${call.name}: ${allowed.body}`).toBe(200);
    }
  });

  it('answers a bad body with 400 naming the field, for every call that takes one', async () => {
    const key = await fullKey();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['create_user', { target_user: { username: 'x', password: 'short' } }, 'target_user.password'],
      ['create_user', {}, "required property 'target_user'"],
      ['get_user', { target_user: { user_id: 'not-an-id' } }, 'target_user/user_id'],
      ['get_user', { target_user: {} }, 'user_id or username'],
      ['get_users', { page_size: 5000 }, 'page_size'],
      ['update_user', { target_user: { first_name: 'x' } }, "required property 'user_id'"],
      ['update_user', { target_user: { user_id: dashless(crypto.randomUUID()), email: 'nope' } }, 'User not found'],
      ['delete_user', { target_user: { user_id: 42 } }, 'target_user/user_id'],
      ['logout_user', {}, "required property 'target_user'"],
      ['get_attributes', { target_user: 'me' }, 'target_user'],
      ['update_user_attributes', { target_user_attributes: { theme: 'Dark' } }, "required property 'user_id'"],
      [
        'add_user_group',
        { target_user: { user_id: dashless(crypto.randomUUID()) } },
        "required property 'target_group'",
      ],
      ['remove_user_group', { target_user: {}, target_group: { group_id: 'x' } }, 'target_group/group_id'],
      ['get_group', { target_group: {} }, "required property 'group_id'"],
      ['request_kasm', { image_id: dashless(crypto.randomUUID()) }, "required property 'user_id'"],
      ['get_kasm_status', {}, "required property 'kasm_id'"],
      ['destroy_kasm', { kasm_id: 'abc' }, 'kasm_id'],
      ['keepalive', { kasm_id: [] }, 'kasm_id'],
      ['get_users', { page: 0 }, 'page'],
    ];
    for (const [call, body, field] of cases) {
      const response = await callApi(t.app, key, call, body);
      expect(response.statusCode, `${call} ${JSON.stringify(body)}`).toBeGreaterThanOrEqual(400);
      expect(response.statusCode).toBeLessThan(500);
      expect(response.json().error_message, call).toContain(field);
    }
    const user = await createUser(unique('fields'));
    const invalid = await callApi(t.app, key, 'update_user', {
      target_user: { user_id: user.id, email: 'not an address', phone: 'x'.repeat(300) },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error_message).toContain('target_user.email: Email must look like an address');
    expect(invalid.json().error_message).toContain('target_user.phone');
    // Calls without arguments accept (and ignore) what they do not know.
    for (const call of API_CALLS.filter((c) => ['get_groups', 'get_images', 'get_kasms'].includes(c.name))) {
      expect((await callApi(t.app, key, call.name, { enable_sharing: true })).statusCode, call.name).toBe(200);
    }
  });

  it('limits calls per key with 429 and Retry-After', async () => {
    const limited = await createTestApp({ API_RATE_LIMIT: '3' });
    try {
      const key = await insertApiKey(limited.handle.db, { permissions: ['images_view'] });
      const other = await insertApiKey(limited.handle.db, { permissions: ['images_view'] });
      for (let i = 0; i < 3; i++) expect((await callApi(limited.app, key, 'get_images')).statusCode).toBe(200);
      const slow = await callApi(limited.app, key, 'get_images');
      expect(slow.statusCode).toBe(429);
      // The seconds left of the 60 s window that began with the first call (59 if a second has passed since).
      expect(slow.headers['retry-after']).toMatch(/^(60|59)$/);
      expect(slow.headers['x-ratelimit-limit']).toBe('3');
      expect(slow.headers['x-ratelimit-remaining']).toBe('0');
      expect(slow.json().error_message).toContain('Too many calls');
      expect((await callApi(limited.app, other, 'get_images')).statusCode, 'another key has its own budget').toBe(200);
    } finally {
      await limited.close();
    }
  });
  it('counts every call before authentication: wrong secrets, made-up keys and refused calls reach 429', async () => {
    const limited = await createTestApp({ API_RATE_LIMIT: '5' });
    try {
      const key = await insertApiKey(limited.handle.db, { permissions: ['images_view'] });
      const statuses = async (
        n: number,
        call: (i: number) => Promise<{ statusCode: number; headers: Record<string, unknown> }>,
      ) => {
        const answers = [];
        for (let i = 0; i < n; i++) answers.push(await call(i));
        for (const answer of answers.filter((a) => a.statusCode === 429))
          expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
        return answers.map((a) => a.statusCode);
      };
      const from = (remoteAddress: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
        limited.app.inject({ method: 'POST', url: '/api/public/get_images', payload: body, headers, remoteAddress });
      // One key claimed with a wrong secret, in the body or as HTTP Basic: the same bucket.
      const wrong = await statuses(30, (i) =>
        i % 2
          ? from('192.0.2.1', { api_key: key.key, api_key_secret: 'wrong' })
          : from('192.0.2.1', {}, { authorization: `Basic ${Buffer.from(`${key.key}:wrong`).toString('base64')}` }),
      );
      expect(wrong).toEqual([...Array(5).fill(401), ...Array(25).fill(429)]);
      // A new made-up key each call still counts against the address it comes from.
      const madeUp = await statuses(10, (i) => from('192.0.2.2', { api_key: `nobody-${i}`, api_key_secret: 'guess' }));
      expect(madeUp).toEqual([...Array(5).fill(401), ...Array(5).fill(429)]);
      const noCredentials = await statuses(7, () => from('192.0.2.3', {}));
      expect(noCredentials).toEqual([...Array(5).fill(401), 429, 429]);
      // The key's own budget was spent by the wrong-secret calls; another key from elsewhere has its own.
      expect((await from('192.0.2.9', { api_key: key.key, api_key_secret: key.secret })).statusCode).toBe(429);
      const other = await insertApiKey(limited.handle.db, { permissions: ['images_view'] });
      expect((await from('192.0.2.9', { api_key: other.key, api_key_secret: other.secret })).statusCode).toBe(200);
      // Refused calls count too: a read-only key writing.
      const readOnly = await insertApiKey(limited.handle.db, { permissions: ['global_admin'], readOnly: true });
      const refused = await statuses(20, () =>
        limited.app.inject({
          method: 'POST',
          url: '/api/public/create_user',
          headers: { authorization: readOnly.basic },
          payload: { target_user: { username: 'x', password: USER_PASSWORD } },
          remoteAddress: '192.0.2.4',
        }),
      );
      expect(refused).toEqual([...Array(5).fill(403), ...Array(15).fill(429)]);
    } finally {
      await limited.close();
    }
  });

  it('answers every call with Cache-Control: no-store, whatever the outcome', async () => {
    const ids = await fixturesForCalls();
    const key = await fullKey();
    for (const call of API_CALLS) {
      for (const answer of [
        await callApi(t.app, key, call.name, validBody(call.name, ids)),
        await callApi(t.app, { key: key.key, secret: 'wrong' }, call.name, validBody(call.name, ids)),
        await callApi(t.app, key, call.name, {
          target_user: 5,
          target_group: 5,
          kasm_id: 5,
          user_id: 5,
          image_id: 5,
          target_user_attributes: 5,
        }),
      ]) {
        expect(answer.headers['cache-control'], `${call.name} ${answer.statusCode}`).toBe('no-store');
      }
    }
    expect((await t.app.inject('/api/public/openapi.json')).headers['cache-control']).toBe('no-store');
  });
});

describe('calls', () => {
  it('create_user, get_user, get_users: Kasm shapes, ids with or without dashes', async () => {
    const key = await fullKey();
    const username = unique('jdoe');
    const created = await callApi(t.app, key, 'create_user', {
      target_user: {
        username,
        password: USER_PASSWORD,
        first_name: 'Jane',
        last_name: 'Doe',
        phone: '123',
        organization: 'Example',
        locked: false,
        disabled: 'false',
      },
    });
    expect(created.statusCode, created.body).toBe(200);
    const user = created.json().user;
    expect(user).toMatchObject({
      username,
      first_name: 'Jane',
      last_name: 'Doe',
      phone: '123',
      organization: 'Example',
      realm: 'local',
      locked: false,
      disabled: false,
      two_factor: false,
      last_session: null,
      kasms: [],
    });
    expect(user.user_id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Date(user.created).toISOString()).toBe(user.created);
    expect(user.groups.map((g: { name: string }) => g.name)).toEqual(['All Users']);
    const row = (await findUser(username))!;
    expect(await lastAudit('user_created', row.id)).toMatchObject({
      actorType: 'api_key',
      actorName: expect.stringMatching(/^api_key:/),
    });
    for (const id of [row.id, dashless(row.id), row.id.toUpperCase()]) {
      const found = await callApi(t.app, key, 'get_user', { target_user: { user_id: id } });
      expect(found.json().user.username).toBe(username);
    }
    expect(
      (await callApi(t.app, key, 'get_user', { target_user: { username: username.toUpperCase() } })).json().user
        .user_id,
    ).toBe(user.user_id);
    expect(
      (await callApi(t.app, key, 'get_user', { target_user: { user_id: dashless(crypto.randomUUID()) } })).statusCode,
    ).toBe(404);
    const again = await callApi(t.app, key, 'create_user', { target_user: { username, password: USER_PASSWORD } });
    expect(again.statusCode).toBe(409);
    const all = await callApi(t.app, key, 'get_users');
    expect(all.headers['content-type']).toContain('application/json');
    const everyone = all.json().users as Array<{ username: string }>;
    expect(everyone.map((u) => u.username)).toContain(username);
    const count = (await t.handle.db.select().from(users)).length;
    expect(everyone).toHaveLength(count);
    const paged = await callApi(t.app, key, 'get_users', { page: 2, page_size: 1 });
    expect(paged.json().users).toEqual([everyone[1]]);
  });

  it('update_user goes through the form rules: password policy, uniqueness, last admin, stronger users', async () => {
    const key = await fullKey();
    const user = await createUser(unique('upd'));
    const changed = await callApi(t.app, key, 'update_user', {
      target_user: { user_id: dashless(user.id), first_name: 'New', locked: true },
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json().user).toMatchObject({ first_name: 'New', locked: true, username: user.username });
    expect((await lastAudit('user_updated', user.id))?.details).toMatchObject({
      changes: { first_name: { old: '', new: 'New' }, locked: { old: false, new: true } },
    });
    const weak = await callApi(t.app, key, 'update_user', { target_user: { user_id: user.id, password: 'password' } });
    expect(weak.statusCode).toBe(400);
    expect(weak.json().error_message).toContain('target_user.password');
    const admins = await t.handle.db.select().from(users).where(eq(users.username, 'admin'));
    const lastAdmin = await callApi(t.app, key, 'update_user', {
      target_user: { user_id: admins[0]!.id, disabled: true },
    });
    expect(lastAdmin.statusCode).toBe(409);
    expect((await t.handle.db.select().from(users).where(eq(users.id, admins[0]!.id)))[0]!.disabled).toBe(false);
    const taken = await callApi(t.app, key, 'update_user', { target_user: { user_id: user.id, username: 'ADMIN' } });
    expect(taken.statusCode).toBe(409);
  });

  it('delete_user refuses a user with workspace sessions unless force; logout_user ends their logins', async () => {
    const key = await fullKey();
    const user = await createUser(unique('leaver'));
    const browser = await loggedInClient(t.app, user.username, { visit: null });
    expect((await browser.get('/profile')).statusCode).toBe(200);
    expect((await callApi(t.app, key, 'logout_user', { target_user: { user_id: user.id } })).json()).toEqual({});
    expect((await browser.get('/profile')).statusCode).toBe(303);
    const keyName = (await t.handle.db.select().from(apiKeys).where(eq(apiKeys.id, key.id)))[0]!.name;
    expect(await lastAudit('session_revoked', user.id)).toMatchObject({
      actorType: 'api_key',
      actorId: key.id,
      actorName: `api_key:${keyName}`,
      outcome: 'success',
      targetType: 'user',
      targetId: user.id,
      targetName: user.username,
      details: { count: 1, scope: 'all sessions' },
    });
    const image = await makeWorkspace();
    expect((await callApi(t.app, key, 'request_kasm', { user_id: user.id, image_id: image.id })).statusCode).toBe(200);
    const refused = await callApi(t.app, key, 'delete_user', { target_user: { user_id: user.id } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error_message).toContain('"force": true');
    expect(
      (await callApi(t.app, key, 'delete_user', { target_user: { user_id: user.id }, force: true })).json(),
    ).toEqual({});
    expect(await findUser(user.username)).toBeUndefined();
    expect(await lastAudit('user_deleted', user.id)).toMatchObject({ actorType: 'api_key' });
  });

  it('get_attributes and update_user_attributes: all or nothing, null restores the group default', async () => {
    const key = await fullKey();
    const user = await createUser(unique('attrs'));
    const image = await makeWorkspace();
    const set = await callApi(t.app, key, 'update_user_attributes', {
      target_user_attributes: {
        user_id: user.id,
        theme: 'Dark',
        chat_sfx: false,
        show_tips: true,
        preferred_timezone: 'Europe/Berlin',
        default_image: dashless(image.id),
        preferred_language: 'en-us',
      },
    });
    expect(set.statusCode, set.body).toBe(200);
    const attributes = (await callApi(t.app, key, 'get_attributes', { target_user: { user_id: user.id } })).json()
      .user_attributes;
    expect(attributes).toMatchObject({
      user_id: dashless(user.id),
      theme: 'Dark',
      chat_sfx: false,
      show_tips: true,
      preferred_timezone: 'Europe/Berlin',
      default_image: dashless(image.id),
      preferred_language: 'en-US',
      ssh_public_key: null,
      auto_login_kasm: null,
    });
    expect(attributes.user_attributes_id).toBe(dashless(user.id));
    // The profile shows what the API set.
    const browser = await loggedInClient(t.app, user.username, { visit: null });
    expect((await browser.get('/profile')).body).toContain('data-theme="dark"');
    const bad = await callApi(t.app, key, 'update_user_attributes', {
      target_user_attributes: { user_id: user.id, theme: 'Light', preferred_timezone: 'Mars/Olympus' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error_message).toContain('target_user_attributes.preferred_timezone');
    expect(
      (await callApi(t.app, key, 'get_attributes', { target_user: { user_id: user.id } })).json().user_attributes.theme,
    ).toBe('Dark'); // nothing half-written
    await callApi(t.app, key, 'update_user_attributes', {
      target_user_attributes: { user_id: user.id, chat_sfx: null },
    });
    const rows = await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id));
    expect(rows.map((row) => row.key)).not.toContain('chat_sfx');
    expect(await lastAudit('user_settings_changed', user.id)).toMatchObject({ actorType: 'api_key' });
    // A stronger user's attributes need users_modify_admin.
    const helpdesk = await insertApiKey(t.handle.db, { permissions: ['users_view', 'users_modify'] });
    const refused = await callApi(t.app, helpdesk, 'update_user_attributes', {
      target_user_attributes: { user_id: user.id, theme: 'Light' },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error_message).toContain('users_modify_admin');
  });

  it('add_user_group, remove_user_group, get_groups, get_group: the group rules', async () => {
    const key = await fullKey();
    const user = await createUser(unique('member'));
    const group = await createGroup(t.handle.db, {
      name: unique('API Group'),
      priorityFrom: 300,
      permissions: ['audit_view'],
    });
    const added = await callApi(t.app, key, 'add_user_group', {
      target_user: { user_id: user.id },
      target_group: { group_id: dashless(group.id) },
    });
    expect(added.statusCode, added.body).toBe(200);
    expect(await lastAudit('group_member_added', group.id)).toMatchObject({ actorType: 'api_key' });
    expect(
      (
        await callApi(t.app, key, 'add_user_group', {
          target_user: { user_id: user.id },
          target_group: { group_id: group.id },
        })
      ).statusCode,
    ).toBe(409);
    const shown = (await callApi(t.app, key, 'get_group', { target_group: { group_id: group.id } })).json().group;
    expect(shown).toMatchObject({
      group_id: dashless(group.id),
      name: group.name,
      member_count: 1,
      users: [{ user_id: dashless(user.id), username: user.username }],
    });
    expect((await callApi(t.app, key, 'get_groups')).json().groups.map((g: { name: string }) => g.name)).toEqual(
      expect.arrayContaining(['Administrators', 'All Users', group.name]),
    );
    expect(
      (
        await callApi(t.app, key, 'remove_user_group', {
          target_user: { user_id: user.id },
          target_group: { group_id: group.id },
        })
      ).statusCode,
    ).toBe(200);
    // A key without groups_view_system sees no system groups; without groups_modify_system it cannot change them.
    const plain = await insertApiKey(t.handle.db, {
      permissions: ['groups_view', 'groups_modify', 'user', 'users_view'],
    });
    expect(
      (await callApi(t.app, plain, 'get_groups')).json().groups.map((g: { name: string }) => g.name),
    ).not.toContain('Administrators');
    const admins = (await t.handle.db.select().from(groups).where(eq(groups.name, 'Administrators')))[0]!;
    expect(
      (
        await callApi(t.app, plain, 'add_user_group', {
          target_user: { user_id: user.id },
          target_group: { group_id: admins.id },
        })
      ).statusCode,
    ).toBe(404);
  });

  it('get_images, request_kasm, get_kasm_status, get_kasms, keepalive, destroy_kasm', async () => {
    const key = await fullKey();
    const image = await makeWorkspace({ memoryMb: 2048, cores: 2 });
    const group = await createGroup(t.handle.db, {
      name: unique('API Group'),
      priorityFrom: 300,
      settings: { keepalive_expiration: 600, default_image: image.id },
    });
    const user = await createUser(unique('kasm'));
    await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: group.id });
    const images = (await callApi(t.app, key, 'get_images')).json().images;
    expect(images).toContainEqual({
      image_id: dashless(image.id),
      friendly_name: image.friendlyName,
      name: image.image,
      description: '',
      cores: 2,
      memory: 2048 * 1024 * 1024,
      memory_mb: 2048,
      enabled: true,
    });
    const requested = await callApi(t.app, key, 'request_kasm', { user_id: dashless(user.id) }); // the user's default workspace
    expect(requested.statusCode, requested.body).toBe(200);
    const kasm = requested.json();
    expect(kasm).toMatchObject({ status: 'running', user_id: dashless(user.id), username: user.username });
    expect(kasm.kasm_url).toBe(
      `/workspace-sessions/${(await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id)))[0]!.id}`,
    );
    expect(await lastAudit('workspace_launch', user.id)).toMatchObject({ actorType: 'api_key' });
    const status = (await callApi(t.app, key, 'get_kasm_status', { kasm_id: kasm.kasm_id, user_id: user.id })).json();
    expect(status.kasm).toMatchObject({
      kasm_id: kasm.kasm_id,
      user_id: dashless(user.id),
      image_id: dashless(image.id),
      operational_status: 'running',
    });
    const start = new Date(status.kasm.keepalive_date).getTime();
    expect(new Date(status.kasm.expiration_date).getTime() - start).toBe(600_000);
    expect(
      (await callApi(t.app, key, 'get_kasm_status', { kasm_id: kasm.kasm_id, user_id: dashless(crypto.randomUUID()) }))
        .statusCode,
    ).toBe(404);
    t.clock.advance(120_000);
    expect((await callApi(t.app, key, 'keepalive', { kasm_id: kasm.kasm_id })).json()).toEqual({
      usage_reached: false,
    });
    const kept = (await callApi(t.app, key, 'get_kasms'))
      .json()
      .kasms.find((k: { kasm_id: string }) => k.kasm_id === kasm.kasm_id);
    expect(new Date(kept.keepalive_date).getTime()).toBe(t.clock.now());
    expect(new Date(kept.expiration_date).getTime()).toBe(t.clock.now() + 600_000);
    expect(
      (await callApi(t.app, key, 'get_user', { target_user: { user_id: user.id } })).json().user.kasms,
    ).toHaveLength(1);
    expect((await callApi(t.app, key, 'destroy_kasm', { kasm_id: kasm.kasm_id })).json()).toEqual({});
    expect((await callApi(t.app, key, 'destroy_kasm', { kasm_id: kasm.kasm_id })).statusCode).toBe(404);
    expect(
      (await callApi(t.app, key, 'request_kasm', { user_id: user.id, image_id: dashless(crypto.randomUUID()) }))
        .statusCode,
    ).toBe(404);
  });
});

describe('reference', () => {
  it('describes every call in OpenAPI 3 and on a page that works without JavaScript', async () => {
    const document = (await t.app.inject({ url: '/api/public/openapi.json' })).json();
    expect(document.openapi).toMatch(/^3\./);
    for (const call of API_CALLS) {
      const operation = document.paths[`/api/public/${call.name}`]?.post;
      expect(Object.keys(operation ?? {}).sort(), call.name).toEqual([
        'description',
        'requestBody',
        'responses',
        'security',
        'summary',
        'tags',
      ]);
      expect(operation, call.name).toMatchObject({
        summary: call.summary,
        tags: [call.tag],
        security: [{ basic: [] }],
        requestBody: { required: true },
      });
      expect(operation.description, call.name).toBe(`Needs ${call.permission}.`);
      expect(operation.description).toContain(call.permission);
      expect(JSON.stringify(operation.requestBody)).toContain('api_key_secret');
    }
    expect(Object.keys(document.paths)).toHaveLength(API_CALLS.length);
    const page = await t.app.inject({ url: '/api/public/reference' });
    expect(page.statusCode).toBe(200);
    for (const call of API_CALLS) {
      expect(page.body).toContain(`id="${call.name}"`);
      expect(page.body).toContain(`curl -sS -X POST http://localhost:80/api/public/${call.name}`);
    }
  });
});

describe('reference: required fields', () => {
  it("marks as required every field a call refuses to go without (derived from the schema), create_user's username included", async () => {
    const reference = referenceOf(API_CALLS, 'http://localhost');
    const createUserFields = reference.find((c) => c.name === 'create_user')!.fields;
    expect(createUserFields.find((f) => f.name === 'target_user.username')).toMatchObject({ required: true });
    const page = await t.app.inject({ url: '/api/public/reference' });
    expect(page.body).toMatch(/<code>target_user\.username<\/code><\/td><td>string<\/td><td>Yes<\/td>/);
    // The whole class: drop each field of a working body that the reference calls optional; the
    // call must not then answer that the field is required — unless the field's description says
    // when it is (a condition a schema cannot state, such as a local user's password).
    for (const call of reference) {
      const ids = await fixturesForCalls();
      const body = validBody(call.name, ids);
      const optional = call.fields.filter(
        (f) => !f.required && f.type !== 'object' && !/required/i.test(f.description),
      );
      for (const field of optional) {
        const [parent, child] = field.name.split('.');
        const container = child === undefined ? body : (body[parent!] as Record<string, unknown> | undefined);
        const key = child ?? parent!;
        if (!container || !(key in container)) continue; // not in the working body
        const without = structuredClone(body);
        delete (child === undefined ? without : (without[parent!] as Record<string, unknown>))[key];
        const answer = await callApi(t.app, await fullKey(), call.name, without);
        if (answer.statusCode !== 400) continue;
        expect(answer.json().error_message, `${call.name} without ${field.name}`).not.toMatch(
          new RegExp(`${key}[^.]*\\brequired|required[^.]*'${key}'`, 'i'),
        );
      }
    }
  });
});

describe('a provisioning script over real HTTP', () => {
  it('creates a user, sets attributes, adds them to a group, starts a session, logs them out and deletes them', async () => {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/api/public`;
    const key: TestApiKey = await fullKey();
    const post = async (call: string, body: Record<string, unknown>) => {
      const response = await fetch(`${base}/${call}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ api_key: key.key, api_key_secret: key.secret, ...body }),
      });
      return { status: response.status, json: await response.json() };
    };
    const image = await makeWorkspace();
    const group = await createGroup(t.handle.db, {
      name: unique('API Group'),
      priorityFrom: 300,
      permissions: ['audit_view'],
    });
    const username = unique('scripted');
    const created = await post('create_user', {
      target_user: { username, password: USER_PASSWORD, first_name: 'Script' },
    });
    expect(created.status).toBe(200);
    const userId = created.json.user.user_id;
    expect(
      (
        await post('update_user_attributes', {
          target_user_attributes: { user_id: userId, default_image: image.id, auto_login_kasm: true },
        })
      ).status,
    ).toBe(200);
    expect(
      (await post('add_user_group', { target_user: { user_id: userId }, target_group: { group_id: group.id } })).status,
    ).toBe(200);
    const kasm = await post('request_kasm', { user_id: userId });
    expect(kasm.status).toBe(200);
    expect((await post('get_user', { target_user: { user_id: userId } })).json.user).toMatchObject({
      groups: expect.arrayContaining([{ group_id: dashless(group.id), name: group.name }]),
      kasms: [expect.objectContaining({ kasm_id: kasm.json.kasm_id })],
    });
    expect((await post('logout_user', { target_user: { user_id: userId } })).status).toBe(200);
    expect((await post('delete_user', { target_user: { user_id: userId }, force: true })).status).toBe(200);
    expect((await post('get_user', { target_user: { user_id: userId } })).status).toBe(404);
    const trail = await t.handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.actorId, key.id))
      .orderBy(auditEvents.id);
    expect(trail.map((event) => event.action)).toEqual([
      'user_created',
      'user_settings_changed',
      'user_settings_changed',
      'group_member_added',
      'workspace_launch',
      'session_revoked',
      'user_deleted',
    ]);
  });
});
