// Every JSON route declares what it answers, per status (schemas/api-responses.ts), and the
// answers are what the schemas say: Fastify serializes by them, which would drop a key a schema
// does not list, so each call's own answer (before serializing) must pass its closed schema, and
// a read call's answer on the wire must equal that answer as JSON.
import type { Readable } from 'node:stream';
import Value from 'typebox/value';
import type { TSchema } from 'typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CALLS, isReadCall, type ApiContext } from '../../src/api/api-calls.js';
import { API_BASE } from '../../src/api/routes.js';
import { groupMappings, identityProviders, userGroups, workspaces, workspaceSessions } from '../../src/db/schema.js';
import {
  API_ANSWERS,
  API_COMMON_ERRORS,
  ApiErrorAnswer,
  HealthResponses,
  UserAttributesShape,
} from '../../src/schemas/api-responses.js';
import type { Actor } from '../../src/security/actor.js';
import type { Permission } from '../../src/security/permissions.js';
import { USER_SETTINGS } from '../../src/settings/user-settings.js';
import { callApi, insertApiKey, type TestApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createGroup, createIdentityProvider, fixtures } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;
let key: TestApiKey;
let counter = 0;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
  key = await insertApiKey(t.handle.db, { permissions: ['global_admin'] });
});
afterAll(() => t.close());
const { createUser } = fixtures(
  () => t,
  () => admin,
);
const unique = (name: string) => `${name}-${++counter}`;

/** The routes that answer JSON: the API's (its reference is a page) and the health check. */
const isJsonRoute = (url: string) =>
  (url.startsWith('/api/') && url !== `${API_BASE}/reference`) || url.endsWith('.json') || url === '/healthz';

/**
 * JSON routes outside this change's files: launches/routes.ts (another helper's area this round).
 * An entry here must say why; the walk fails for any other route without its schemas.
 */
const NOT_YET: Record<string, string> = {};

const responsesOf = (route: { schema: { response?: unknown } }) =>
  (route.schema.response ?? {}) as Record<string, TSchema>;

describe('every JSON route declares its answers', () => {
  // HEAD answers no body: Fastify's HEAD twin of each GET route is not walked.
  const routes = () => t.app.routeIndex.filter((route) => route.method !== 'HEAD' && isJsonRoute(route.url));

  it('finds the JSON routes (each API call, the OpenAPI document, /healthz)', () => {
    const found = routes().map((route) => `${route.method} ${route.url}`);
    for (const call of API_CALLS) expect(found).toContain(`POST ${API_BASE}/${call.name}`);
    expect(found).toContain(`GET ${API_BASE}/openapi.json`);
    expect(found).toContain('GET /healthz');
    expect(
      Object.keys(NOT_YET).filter((route) => !found.includes(route)),
      'listed routes that no longer exist',
    ).toEqual([]);
  });

  it('declares 200 for every JSON route, and the error statuses it answers', () => {
    const lacking = routes()
      .filter((route) => !(`${route.method} ${route.url}` in NOT_YET))
      .flatMap((route) => {
        const declared = Object.keys(responsesOf(route)).map(Number);
        const call = route.url.startsWith(`${API_BASE}/`) ? API_ANSWERS[route.url.slice(API_BASE.length + 1)] : null;
        const wanted = [
          200,
          ...(call ? [...API_COMMON_ERRORS, ...call.errors] : []),
          ...(route.url === '/healthz' ? [503] : []),
        ];
        return wanted.filter((status) => !declared.includes(status)).map((status) => `${route.url} ${status}`);
      });
    expect(lacking, 'declare a response schema for these').toEqual([]);
  });

  it.each(API_CALLS.map((call) => call.name))('%s answers every failure as {error_message}', (name) => {
    const route = t.app.routeIndex.find((r) => r.url === `${API_BASE}/${name}`)!;
    const errors = Object.entries(responsesOf(route)).filter(([status]) => Number(status) >= 400);
    expect(errors.map(([status]) => Number(status))).toEqual(
      [...new Set([...API_COMMON_ERRORS, ...API_ANSWERS[name]!.errors])].sort((a, b) => a - b),
    );
    for (const [, schema] of errors) expect(schema).toBe(ApiErrorAnswer);
  });

  it('puts each answer in the OpenAPI document', async () => {
    const document = (await t.app.inject(`${API_BASE}/openapi.json`)).json();
    for (const call of API_CALLS) {
      const responses = document.paths[`${API_BASE}/${call.name}`].post.responses;
      expect(Object.keys(responses).map(Number), call.name).toEqual(
        [200, ...new Set([...API_COMMON_ERRORS, ...API_ANSWERS[call.name]!.errors])].sort((a, b) => a - b),
      );
      expect(responses['200'].content['application/json'].schema.type, call.name).toBe('object');
      expect(Object.keys(responses['401'].content['application/json'].schema.properties)).toEqual(['error_message']);
    }
  });

  it("lists every user attribute Kasm's get_attributes answers", () => {
    expect(Object.keys(UserAttributesShape.properties)).toEqual([
      'user_attributes_id',
      'user_id',
      ...USER_SETTINGS.map((setting) => setting.key),
    ]);
  });
});

/** A user in a group with a workspace session and own settings; a group to add them to; a workspace. */
async function world() {
  const user = await createUser(unique('schema'));
  const group = await createGroup(t.handle.db, {
    name: unique('Schema Group'),
    priorityFrom: 500,
    description: 'described',
    permissions: ['users_view'],
  });
  const memberOf = await createGroup(t.handle.db, {
    name: unique('Schema Group'),
    priorityFrom: 500,
    description: 'described',
    permissions: ['users_view'],
  });
  await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: memberOf.id });
  const [image] = await t.handle.db
    .insert(workspaces)
    .values({ friendlyName: unique('Desktop'), image: 'kasmweb/desktop:1.16.0', cores: 1.5, description: 'd' })
    .returning();
  const [session] = await t.handle.db
    .insert(workspaceSessions)
    .values({ userId: user.id, workspaceId: image!.id, workspaceName: image!.friendlyName, plan: { settings: [] } })
    .returning();
  // Own settings of both kinds, so get_attributes answers a string and a boolean beside nulls.
  const set = await callApi(t.app, key, 'update_user_attributes', {
    target_user_attributes: { user_id: user.id, theme: 'Dark', chat_sfx: false, default_image: image!.id },
  });
  expect(set.statusCode, set.body).toBe(200);
  // A directory with a last sync, so get_auth_providers answers one of each shape.
  await t.handle.db.insert(identityProviders).values([
    { kind: 'ldap', name: unique('Directory'), secret: 'sealed', config: { urls: ['ldaps://ldap.example'] } },
    {
      kind: 'ldap',
      name: unique('Directory'),
      enabled: true,
      lastSyncAt: new Date(t.app.now()),
      lastSync: { outcome: 'completed', seen: 3, updated: 1, disabled: 0, enabled: 0, errors: 0, message: '' },
    },
  ]);
  // An SSO group mapping of a directory into the group, and the directory for another.
  const provider = await createIdentityProvider(t.handle.db, { name: unique('Directory') });
  const [mapping] = await t.handle.db
    .insert(groupMappings)
    .values({ groupId: memberOf.id, providerId: provider.id, groupDn: 'cn=Ops,dc=corp', matchKey: 'cn=ops,dc=corp' })
    .returning();
  return {
    user: user.id,
    group: group.id,
    memberOf: memberOf.id,
    session: session!.id,
    image: image!.id,
    provider: provider.id,
    mapping: mapping!.id,
  };
}

/** A body for each call that it answers with 200 (as api.test.ts makes them). */
function bodyOf(call: string, ids: Awaited<ReturnType<typeof world>>): Record<string, unknown> {
  const bodies: Record<string, Record<string, unknown>> = {
    create_user: {
      target_user: { username: unique('made'), password: USER_PASSWORD, first_name: 'Jane', notes: 'n' },
    },
    get_user: { target_user: { user_id: ids.user } },
    get_users: {},
    update_user: { target_user: { user_id: ids.user, first_name: 'Changed' } },
    delete_user: { target_user: { user_id: ids.user }, force: true },
    logout_user: { target_user: { user_id: ids.user } },
    get_attributes: { target_user: { user_id: ids.user } },
    update_user_attributes: { target_user_attributes: { user_id: ids.user, theme: 'Light', show_tips: null } },
    add_user_group: { target_user: { user_id: ids.user }, target_group: { group_id: ids.group } },
    remove_user_group: { target_user: { user_id: ids.user }, target_group: { group_id: ids.memberOf } },
    get_groups: {},
    get_group: { target_group: { group_id: ids.memberOf } },
    get_group_mappings: { target_group: { group_id: ids.memberOf } },
    add_group_mapping: {
      target_group: { group_id: ids.group },
      target_group_mapping: { provider_id: ids.provider, all_users: true },
    },
    delete_group_mapping: { target_group_mapping: { group_mapping_id: ids.mapping } },
    get_images: {},
    get_auth_providers: {},
    request_kasm: { user_id: ids.user, image_id: ids.image },
    get_kasm_status: { kasm_id: ids.session },
    get_kasms: {},
    destroy_kasm: { kasm_id: ids.session },
    keepalive: { kasm_id: ids.session },
  };
  return bodies[call]!;
}

/** The call's own answer, before any serializing: what the handler gives Fastify. */
async function ownAnswer(name: string, body: Record<string, unknown>) {
  const call = API_CALLS.find((c) => c.name === name)!;
  const actor: Actor = {
    type: 'api_key',
    id: key.id,
    name: 'api_key:schema test',
    ip: '127.0.0.1',
    at: new Date(t.app.now()),
    permissions: new Set<Permission>(['global_admin']),
    groupIds: new Set(),
  };
  const context: ApiContext = {
    db: t.handle.db,
    actor,
    now: new Date(t.app.now()),
    passwordMinLength: t.config.passwordMinLength,
    streamBatch: t.config.apiStreamBatch,
  };
  const answer = await call.handle(context, body as never);
  if (!('stream' in answer)) return { status: answer.status, body: answer.body };
  let text = '';
  for await (const chunk of answer.stream as Readable) text += String(chunk);
  return { status: answer.status, body: JSON.parse(text) as unknown };
}

const problemsOf = (schema: TSchema, value: unknown) =>
  [...Value.Errors(schema, value)].map((error) => `${error.instancePath} ${error.message}`);

describe('each call answers what its schema says', () => {
  it.each(API_CALLS.map((call) => call.name))('%s', async (name) => {
    const schema = API_ANSWERS[name]!.ok;
    // Its own answer passes the closed schema: nothing in it is dropped or changed on the way out.
    const own = await ownAnswer(name, bodyOf(name, await world()));
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(problemsOf(schema, own.body), JSON.stringify(own.body)).toEqual([]);
    // The same call over HTTP, on a world of its own: the wire answer passes too.
    const ids = await world();
    const body = bodyOf(name, ids);
    const before = isReadCall(name) ? await ownAnswer(name, body) : null;
    const wire = await callApi(t.app, key, name, body);
    expect(wire.statusCode, wire.body).toBe(200);
    expect(wire.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(problemsOf(schema, wire.json()), wire.body).toEqual([]);
    // A read answers the same before and on the wire: every key, every value.
    if (before) expect(wire.json()).toEqual(JSON.parse(JSON.stringify(before.body)));
  });

  it('pages of get_users answer in the same shape as the stream', async () => {
    await world();
    const paged = await callApi(t.app, key, 'get_users', { page: 1, page_size: 2 });
    expect(problemsOf(API_ANSWERS.get_users!.ok, paged.json())).toEqual([]);
    const streamed = (await callApi(t.app, key, 'get_users')).json();
    expect(paged.json().users).toEqual(streamed.users.slice(0, 2));
  });

  const failures: Array<[string, number, () => Promise<{ statusCode: number; body: string; json(): unknown }>]> = [
    ['no key', 401, () => t.app.inject({ method: 'POST', url: `${API_BASE}/get_users`, payload: {} })],
    [
      'a key without the permission',
      403,
      async () => callApi(t.app, await insertApiKey(t.handle.db, { permissions: ['groups_view'] }), 'get_users'),
    ],
    ['a bad body', 400, () => callApi(t.app, key, 'get_user', { target_user: { user_id: 'not an id' } })],
    [
      'not JSON',
      415,
      () =>
        t.app.inject({
          method: 'POST',
          url: `${API_BASE}/get_users`,
          headers: { 'content-type': 'text/plain' },
          payload: 'x',
        }),
    ],
    ['an unknown user', 404, () => callApi(t.app, key, 'get_user', { target_user: { user_id: '0'.repeat(32) } })],
    [
      'a taken username',
      409,
      () => callApi(t.app, key, 'create_user', { target_user: { username: 'admin', password: USER_PASSWORD } }),
    ],
  ];
  it.each(failures)('%s: %i with {error_message}', async (_what, status, send) => {
    const answer = await send();
    expect(answer.statusCode, answer.body).toBe(status);
    expect(problemsOf(ApiErrorAnswer, answer.json()), answer.body).toEqual([]);
    expect((answer.json() as { error_message: string }).error_message.length).toBeGreaterThan(0);
  });

  it('/healthz answers its declared shape', async () => {
    const answer = await t.app.inject('/healthz');
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({ status: 'ok', database: 'ok' });
    expect(problemsOf(HealthResponses[200], answer.json())).toEqual([]);
  });
});
