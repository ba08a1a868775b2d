// Every route and method of the route table, as a full admin with a valid CSRF token, fed what
// no form of Roster sends: repeated keys, empty and null bodies, arrays for strings, a 300 KB
// string, NUL and control characters, ids that are not ids, broken percent-encoding, a
// 5,000-deep JSON value, JSON where a form is expected. Nothing may answer 5xx, the process
// must keep answering, and nothing may be stored. Routes added later are walked the moment
// they exist; their schemas say which fields to spoil.
import { eq } from 'drizzle-orm';
import type { FastifySchema, InjectOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import * as schema from '../../src/db/schema.js';
import type { RouteEntry } from '../../src/app.js';
import { TestClient } from '../helpers/client.js';
import { expectLeadingElement } from '../helpers/html.js';
import { insertApiKey, type TestApiKey } from '../helpers/api.js';
import { createIdentityProvider } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

// Made at collection time: it.each needs the route table, so the app and its fixtures exist
// before the tests are collected (one app for the whole file).
const t: TestApp = await createTestApp();
const admin: TestClient = await new TestClient(t.app).loginAsFirstAdmin();
/** A key holding everything, so that API calls get past the key check to their bodies. */
let apiKey: TestApiKey;
const ids: Record<string, string> = await makeFixtures();
/** What is stored before the walk: every route must leave it as it is. */
const before = await storedData();
const tally = { sent: 0, fiveHundreds: 0 };

async function makeFixtures(): Promise<Record<string, string>> {
  const userId = await admin.addUser('walk-target');
  await admin.get('/admin/groups/new');
  const group = await admin.post('/admin/groups', { name: 'Walk Group', priority: '500' });
  await admin.get('/admin/workspaces/new');
  const workspace = await admin.post('/admin/workspaces', {
    friendly_name: 'Walk Workspace',
    image: 'kasmweb/chrome:1.16.0',
    cores: '1',
    memory_mb: '1024',
    enabled: 'true',
  });
  const workspaceId = workspace.headers.location!.split('/').pop()!;
  await admin.get(`/admin/users/${userId}`);
  const mapping = await admin.post(`/admin/users/${userId}/file-mappings`, {
    name: 'Walk file',
    destination_path: '/walk',
    content: 'walk',
  });
  const [mappingRow] = await t.handle.db
    .select()
    .from(schema.fileMappings)
    .where(eq(schema.fileMappings.userId, userId));
  await admin.get('/profile');
  const launched = await admin.post('/launch', { workspace_id: workspaceId });
  if (mapping.statusCode !== 303 || launched.statusCode !== 303) throw new Error('walk fixtures failed');
  const groupId = group.headers.location!.split('/').pop()!;
  const mappedProvider = await createIdentityProvider(t.handle.db, { name: 'Walk Mapped Directory' });
  await admin.get(`/admin/groups/${groupId}`);
  const mapped = await admin.post(`/admin/groups/${groupId}/sso-mappings`, {
    provider_id: mappedProvider.id,
    group_dns: 'cn=walk,dc=corp',
  });
  const [groupMapping] = await t.handle.db.select().from(schema.groupMappings);
  if (mapped.statusCode !== 303 || !groupMapping) throw new Error('the walk SSO group mapping failed');
  apiKey = await insertApiKey(t.handle.db, { name: 'walk key', permissions: ['global_admin'] });
  // A directory nobody answers for (a closed port): its Test and Sync now get past the :id.
  await admin.get('/admin/auth/ldap/new');
  const provider = await admin.post('/admin/auth/ldap', {
    name: 'Walk Directory',
    urls: 'ldaps://127.0.0.1:1',
    bind_dn: 'cn=walk,dc=example,dc=test',
    bind_password: 'walk-bind-password',
    user_search_base: 'dc=example,dc=test',
    user_filter: '(uid={username})',
    connect_timeout_ms: '200',
  });
  if (provider.statusCode !== 303) throw new Error(`walk directory failed: ${provider.body.slice(0, 500)}`);
  return {
    id: userId,
    userId,
    groupId,
    groupMappingId: groupMapping.id,
    workspaceId,
    mappingId: mappingRow!.id,
    sessionId: launched.headers.location!.split('/').pop()!,
    providerId: provider.headers.location!.split('/').pop()!,
    key: 'theme',
    handle: '0'.repeat(24),
  };
}
afterAll(async () => {
  console.log(`malformed-input walk: ${tally.sent} requests, ${tally.fiveHundreds} answered 5xx`);
  await t.close();
});

/** The stored data (sessions and the audit log record activity, not data, and are left out). */
async function storedData(): Promise<string> {
  const db = t.handle.db;
  const tables = [
    schema.users,
    schema.groups,
    schema.groupPermissions,
    schema.groupSettings,
    schema.userGroups,
    schema.userSettings,
    schema.recoveryCodes,
    schema.workspaces,
    schema.fileMappings,
    schema.workspaceSessions,
    schema.apiKeyPermissions,
    schema.identityProviders,
    schema.groupMappings,
  ];
  const contents: unknown[][] = await Promise.all(tables.map((table) => db.select().from(table)));
  // An API key's Last Used moves with every call; the rest of its row is data.
  contents.push((await db.select().from(schema.apiKeys)).map(({ lastUsedAt: _used, ...key }) => key));
  return JSON.stringify(contents.map((rows) => rows.map((row) => JSON.stringify(row)).sort()));
}

type Properties = Record<string, { type?: string }>;
const propertiesOf = (part: unknown): Properties => (part as { properties?: Properties } | undefined)?.properties ?? {};

/** A real id for each parameter, so that handlers run as far as the spoiled input lets them. */
function pathWith(route: RouteEntry, override: Record<string, string> = {}): string {
  const idOf: Array<[string, string]> = [
    ['/admin/groups', ids.groupId!],
    ['/admin/workspaces', ids.workspaceId!],
    ['/workspace-sessions', ids.sessionId!],
    ['/admin/auth', ids.providerId!],
  ];
  const ownId = idOf.find(([prefix]) => route.url.startsWith(prefix))?.[1];
  return route.url.replace(
    /:([A-Za-z]+)/g,
    (_match, name: string) => override[name] ?? (name === 'id' && ownId ? ownId : ids[name]!),
  );
}

const deepJsonText = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

interface Variant {
  name: string;
  request: InjectOptions;
}

/** The malformed requests for one route: only ones that are malformed for it (a body-less form stays valid empty). */
function variants(route: RouteEntry): Variant[] {
  const routeSchema: FastifySchema = route.schema;
  const method = route.method as InjectOptions['method'];
  const body = Object.keys(propertiesOf(routeSchema.body)).filter((name) => name !== '_csrf');
  // A GET gets every query key any route reads: a route that reads one without declaring it
  // (no schema) is spoiled too. (A POST gets only its own: dropping others could make it valid.)
  const query = method === 'GET' ? allQueryKeys() : Object.keys(propertiesOf(routeSchema.querystring));
  const params = Object.keys(propertiesOf(routeSchema.params));
  const url = pathWith(route);
  const form = (fields: Record<string, string | string[]>) => {
    const payload = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) for (const one of [value].flat()) payload.append(name, one);
    return {
      method,
      url,
      payload: payload.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    };
  };
  const json = (value: unknown) => ({
    method,
    url,
    payload: JSON.stringify(value),
    headers: { 'content-type': 'application/json' },
  });
  const everyField = (value: string) => Object.fromEntries(body.map((name) => [name, value]));
  const list: Variant[] = [];

  for (const name of params) {
    list.push({ name: `${name} not an id`, request: { method, url: pathWith(route, { [name]: 'not-an-id' }) } });
    list.push({
      name: `${name} broken percent-encoding`,
      request: { method, url: pathWith(route, { [name]: '%E0%A4%A' }) },
    });
    list.push({ name: `${name} with NUL`, request: { method, url: pathWith(route, { [name]: 'a%00b' }) } });
  }
  for (const name of query) {
    list.push({ name: `?${name} repeated`, request: { method, url: `${url}?${name}=a&${name}=b` } });
    list.push({ name: `?${name} 8 KB`, request: { method, url: `${url}?${name}=${'x'.repeat(8192)}` } });
    list.push({ name: `?${name} with NUL and controls`, request: { method, url: `${url}?${name}=a%00b%07c%1b` } });
    list.push({ name: `?${name} broken percent-encoding`, request: { method, url: `${url}?${name}=%E0%A4%A` } });
  }
  if (method === 'POST') {
    list.push({ name: 'no body at all', request: { method, url } });
    list.push({ name: 'JSON null body', request: json(null) });
    list.push({ name: 'JSON array where a form is expected', request: json([{ a: 1 }]) });
    list.push({ name: '_csrf as an array', request: form({ _csrf: ['a', 'b'], ...everyField('x') }) });
    // Written out as text: JSON.stringify itself overflows on 5,000 levels.
    const deepFields = ['_csrf', ...body].map((name) => `${JSON.stringify(name)}:${deepJsonText(5000)}`).join(',');
    list.push({ name: '5,000-deep JSON in every field', request: { ...json({}), payload: `{${deepFields}}` } });
    if (body.length > 0) {
      list.push({
        name: 'every field repeated',
        request: form(Object.fromEntries(body.map((name) => [name, ['a', 'b']]))),
      });
      list.push({
        name: 'arrays where strings belong (JSON)',
        request: json(Object.fromEntries(body.map((name) => [name, ['a', 'b']]))),
      });
      list.push({ name: '300 KB in every field', request: form(everyField('x'.repeat(300 * 1024))) });
      list.push({
        name: 'NUL and control characters in every field',
        request: form(everyField('a\u0000b\u0007c\u001b\u202e')),
      });
      list.push({ name: '5,000-deep JSON text in every field', request: form(everyField(deepJsonText(5000))) });
      const multipart = (body: string, boundary = 'b0und') => ({
        method,
        url,
        payload: body,
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      const filePart = (field: string) =>
        `--b0und\r\nContent-Disposition: form-data; name="${field}"; filename="x.bin"\r\n\r\n\u0000\u0001\r\n`;
      list.push({
        name: 'multipart: a file in every field',
        request: multipart(body.map(filePart).join('') + '--b0und--\r\n'),
      });
      list.push({
        name: 'multipart: cut off mid-part',
        request: multipart('--b0und\r\nContent-Disposition: form-data; name="name"\r\n\r\nabc'),
      });
      list.push({
        name: 'multipart: wrong boundary',
        request: multipart('--other\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--other--\r\n'),
      });
      list.push({
        name: 'multipart: no boundary at all',
        request: { method, url, payload: 'x', headers: { 'content-type': 'multipart/form-data' } },
      });
      list.push({
        name: 'multipart: __proto__ field',
        request: multipart('--b0und\r\nContent-Disposition: form-data; name="__proto__"\r\n\r\nx\r\n--b0und--\r\n'),
      });
    }
  }
  return list;
}

function allQueryKeys(): string[] {
  return [...new Set(t.app.routeIndex.flatMap((route) => Object.keys(propertiesOf(route.schema.querystring))))];
}

function walkedRoutes(): RouteEntry[] {
  return t.app.routeIndex.filter((route) => route.method !== 'HEAD' && !route.url.startsWith('/static/'));
}

describe('malformed input on every route', () => {
  it('knows the routes and their schemas', () => {
    const routes = walkedRoutes();
    expect(routes.length).toBeGreaterThan(40);
    for (const route of routes) {
      const where = `${route.method} ${route.url}`;
      expect(route.schema.querystring, `${where} declares its query string`).toBeDefined();
      if (route.url.includes(':')) expect(route.schema.params, `${where} declares its params`).toBeDefined();
      if (route.method === 'POST') expect(route.schema.body, `${where} declares its body`).toBeDefined();
    }
  });

  // One test per route (named by method and url), so that one failing route does not hide the rest.
  it.each(walkedRoutes().map((route) => [`${route.method} ${route.url}`, route] as const))(
    '%s never answers 5xx and stores nothing',
    async (where, route) => {
      await admin.get('/profile'); // a fresh CSRF token
      const problems: string[] = [];
      for (const variant of variants(route)) {
        const headers = {
          ...(variant.request.headers as Record<string, string> | undefined),
          cookie: [...admin.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
          'x-csrf-token': admin.csrf,
          ...(route.url.startsWith('/api/') ? { authorization: apiKey.basic } : {}),
        };
        const response = await t.app.inject({ ...variant.request, headers });
        tally.sent++;
        if (response.statusCode >= 500) {
          tally.fiveHundreds++;
          problems.push(`${variant.name} answered ${response.statusCode}\n${response.body.slice(0, 300)}`);
        }
      }
      expect(problems, where).toEqual([]);
      // Compared once per route (a snapshot per request made this the slowest test file).
      expect(await storedData(), `${where} stored something`).toBe(before);
    },
    60_000,
  );

  it('walked them all and keeps running', async () => {
    expect(tally.sent).toBeGreaterThan(300);
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await admin.get('/profile')).statusCode, 'the admin is still logged in').toBe(200);
  });

  it('answers 400 for a browser as a page, for htmx as a fragment, and 404 for an id that is not one', async () => {
    const page = await admin.get('/admin/users?q=a&q=b');
    expect(page.statusCode).toBe(400);
    expect(page.body).toContain('<title>Bad request · Roster</title>');
    expect(page.body).toContain('This request was not understood');
    const fragment = await admin.get('/admin/users?sort=__proto__', { 'hx-request': 'true' });
    expect(fragment.statusCode).toBe(400);
    expect(fragment.body).not.toContain('<html');
    expect(fragment.body).toContain('role="alert"');
    expect(fragment.headers['hx-retarget']).toBe('#htmx-alert');
    const notAnId = await admin.get('/admin/groups/not-an-id');
    expect(notAnId.statusCode).toBe(404);
    expect(notAnId.body).toContain('Page not found');
  });

  it('answers htmx with the alert fragment for every kind of error, never a nested page', async () => {
    const htmx = { 'hx-request': 'true' };
    const plain = new TestClient(t.app);
    await plain.login('walk-target', USER_PASSWORD);
    const cases = [
      { response: await admin.get('/admin/users?q=a&q=b', htmx), status: 400 }, // schema
      { response: await admin.get('/admin/users/00000000-0000-4000-8000-000000000000', htmx), status: 404 }, // a route's own 404
      { response: await admin.get('/no/such/page', htmx), status: 404 }, // no route
      { response: await plain.get('/admin/users', htmx), status: 403 }, // the route's permission
    ];
    for (const { response, status } of cases) {
      expect(response.statusCode).toBe(status);
      expect(response.body).not.toContain('<html');
      expectLeadingElement(response.body, 'p', { class: 'flash flash-error', role: 'alert' }, { only: true });
      expect(response.headers['hx-retarget']).toBe('#htmx-alert');
    }
  });

  it('drops query keys a route does not declare (but refuses a NUL in any of them, as in every string)', async () => {
    // Dropped: the page is the one without them, and no link or field carries them on.
    const dropped = await admin.get('/profile?actor=x&sort=__proto__&q=a&q=b');
    expect(dropped.statusCode).toBe(200);
    expect(dropped.body).toBe((await admin.get('/profile')).body);
    expect(dropped.body).not.toMatch(/actor=|__proto__|[?&]q=/);
    // A declared key is kept, the undeclared one beside it dropped.
    const kept = await admin.get('/admin/users?q=walk-target&actor=x&members_page=2');
    expect(kept.statusCode).toBe(200);
    expect(kept.body).toBe((await admin.get('/admin/users?q=walk-target')).body);
    expect(kept.body).toContain('value="walk-target"');
    expect(kept.body).not.toMatch(/actor=|members_page=/);
    const nul = await admin.get('/profile?actor=%00&sort=__proto__&q=a&q=b');
    expect(nul.statusCode).toBe(400);
    expect(nul.body).toContain('actor must not contain a NUL character.');
  });

  it('refuses the reported 500s with 4xx: audit filters with NUL, unknown sorts, huge page numbers, repeated keys', async () => {
    for (const url of [
      '/admin/audit?actor=%00',
      '/admin/audit?target=%00',
      '/admin/audit?action=%00',
      '/admin/users?sort=__proto__',
      `/admin/groups/${ids.groupId}?members_page=99999999999999999999`,
      '/admin/users?q=a&q=b',
      '/admin/audit?actor=a&actor=b',
      `/admin/groups/${ids.groupId}?user_q=a&user_q=b`,
      `/admin/groups/${ids.groupId}/user-suggestions?user_q=a&user_q=b`,
    ]) {
      expect((await admin.get(url)).statusCode, url).toBe(400);
    }
  });
});
