// The deep variant of the malformed-input walk (issue 18): for every route of the route table
// with a params, query or body schema, a *valid* request is built from the schema (every
// property filled with a plausible value, real ids, a valid CSRF token, a valid API key), then
// sent once per leaf with exactly that leaf spoiled — NUL, U+0007, a 300 KB string, U+FFFE —
// so that each spoiled value gets past the schema and the other fields into the handler. The
// pre-auth fields are leaves too: api_key and api_key_secret (in the body and as HTTP Basic),
// username and password of the login form. No answer may be 5xx, and every NUL is a 400 that
// names its leaf (plugins/request-text.ts). Each route is a test of its own. The shallow walk
// (every field spoiled at once, odd shapes of body) is test/routes/malformed-input.test.ts.
// DEEP_WALK_DEBUG=<file> appends every request's route, variant and status to that file.
import { appendFileSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import type { InjectOptions } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/app.js';
import * as schema from '../../src/db/schema.js';
import { insertApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createIdentityProvider } from '../helpers/factories.js';
import { ADMIN_NEW_PASSWORD, createTestApp, seedUser, USER_PASSWORD } from '../helpers/test-app.js';

const LOGIN_USER = 'deep-login';
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl walk@deep';

// Made at collection time: it.each needs the route table. Login failures of the walk must not lock anyone.
const t = await createTestApp({ MAX_LOGIN_ATTEMPTS: '100' });
const admin = await new TestClient(t.app).loginAsFirstAdmin();
const ids = await makeFixtures();
const tally = { sent: 0, fiveHundreds: 0 };
afterAll(async () => {
  console.log(`deep malformed-input walk: ${tally.sent} requests, ${tally.fiveHundreds} answered 5xx`);
  await t.close();
});

async function makeFixtures() {
  const userId = await admin.addUser('walk-target');
  await seedUser(t.handle.db, LOGIN_USER, USER_PASSWORD);
  const adminId = (await t.handle.db.select().from(schema.users).where(eq(schema.users.username, 'admin')))[0]!.id;
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
  const groupId = group.headers.location!.split('/').pop()!;
  const workspaceId = workspace.headers.location!.split('/').pop()!;
  const mappingOf: Record<string, string> = {};
  for (const [prefix, id] of [
    ['/admin/users', userId],
    ['/admin/groups', groupId],
    ['/admin/workspaces', workspaceId],
  ] as const) {
    await admin.get(`${prefix}/${id}/file-mappings/new`);
    const added = await admin.post(`${prefix}/${id}/file-mappings`, {
      name: 'Walk file',
      destination_path: '/walk',
      content: 'walk',
    });
    if (added.statusCode !== 303) throw new Error(`mapping of ${prefix} answered ${added.statusCode}`);
    const column = {
      '/admin/users': schema.fileMappings.userId,
      '/admin/groups': schema.fileMappings.groupId,
      '/admin/workspaces': schema.fileMappings.workspaceId,
    }[prefix];
    mappingOf[prefix] = (await t.handle.db.select().from(schema.fileMappings).where(eq(column, id)))[0]!.id;
  }
  await admin.get('/profile');
  const launched = await admin.post('/launch', { workspace_id: workspaceId });
  if (group.statusCode !== 303 || workspace.statusCode !== 303 || launched.statusCode !== 303)
    throw new Error('walk fixtures failed');
  // An SSO group mapping of a directory into the walk group, for the mapping routes and calls.
  const provider = await createIdentityProvider(t.handle.db, { name: 'Deep Walk Directory' });
  await admin.get(`/admin/groups/${groupId}`);
  const mapped = await admin.post(`/admin/groups/${groupId}/sso-mappings`, {
    provider_id: provider.id,
    group_dns: 'cn=walk,dc=corp',
  });
  if (mapped.statusCode !== 303) throw new Error(`the SSO group mapping answered ${mapped.statusCode}`);
  const [groupMapping] = await t.handle.db.select().from(schema.groupMappings);
  const apiKey = await insertApiKey(t.handle.db, { name: 'deep walk key', permissions: ['global_admin'] });
  const pageKey = await insertApiKey(t.handle.db, { name: 'deep page key', permissions: ['users_view'] });
  const anonymous = new TestClient(t.app);
  await anonymous.get('/login'); // its CSRF cookie and token, for the login form
  return {
    userId,
    adminId,
    groupId,
    workspaceId,
    mappingOf,
    providerId: provider.id,
    groupMappingId: groupMapping!.id,
    sessionId: launched.headers.location!.split('/').pop()!,
    apiKey,
    pageKeyId: pageKey.id,
    anonymous,
  };
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  format?: string;
  minimum?: number;
}

/** Not part of the valid request (a spoiled leaf still adds it): unticked boxes, cursors, an uploaded file. */
const OMIT = Symbol('omit');
const UNTICKED = new Set(['locked', 'disabled', 'force_password_reset', 'read_only', 'all_users']);
const CURSORS = new Set(['after', 'before', 'members_after', 'members_before']);

/** A plausible value for a field of `route`, by its name (undefined: go by its schema). */
function plausible(route: RouteEntry, name: string, node: JsonSchema): unknown {
  const url = route.url;
  const isApi = url.startsWith('/api/');
  const creating = url === '/admin/users' || url.endsWith('/create_user');
  switch (name) {
    case 'api_key':
      return ids.apiKey.key;
    case 'api_key_secret':
      return ids.apiKey.secret;
    case 'username':
      return url === '/login' ? LOGIN_USER : creating ? 'deep-new-user' : 'walk-target';
    case 'password':
      return url === '/login'
        ? USER_PASSWORD
        : url.startsWith('/profile/')
          ? ADMIN_NEW_PASSWORD
          : 'a new deep walk passphrase';
    case 'current_password':
      return ADMIN_NEW_PASSWORD;
    case 'password_confirm':
      return 'a new deep walk passphrase';
    case 'next':
      return '/';
    case 'code':
      return '123456';
    case 'realm':
      return 'local';
    case 'email':
      return 'walk@example.com';
    case 'version':
      return 1;
    case 'user_id':
      return url.includes('kasm') ? ids.adminId : ids.userId;
    case 'group_id':
      return ids.groupId;
    case 'workspace_id':
    case 'image_id':
    case 'default_image':
    case 'workspace':
      return ids.workspaceId;
    case 'kasm_id':
      return ids.sessionId;
    case 'provider_id':
      return ids.providerId;
    case 'group_mapping_id':
      return ids.groupMappingId;
    case 'group_dns':
    case 'group_dn':
      return 'cn=deep,dc=corp';
    case 'priority':
      return '800';
    case 'name':
      return url.includes('file-mappings')
        ? 'Deep file'
        : url.startsWith('/admin/api-keys')
          ? 'Deep key'
          : 'Deep Group';
    case 'friendly_name':
      return 'Deep Workspace';
    case 'image':
      return 'kasmweb/chrome:1.16.0';
    case 'cores':
      return '1';
    case 'memory_mb':
      return '1024';
    case 'run_config_override':
      return '{}';
    case 'destination_path':
      return '/home/kasm-user/deep.txt';
    case 'content':
      return 'deep walk';
    case 'expires':
      return '2099-01-01';
    case 'key':
      return url.startsWith('/profile/') ? 'ssh_public_key' : 'session_banner';
    case 'value':
      return url.startsWith('/profile/') ? SSH_KEY : url.endsWith('/default-image') ? ids.workspaceId : 'Walk banner';
    case 'permission':
      return ['users_view'];
    case 'ssh_public_key':
      return SSH_KEY;
    case 'theme':
      return 'Dark';
    case 'preferred_language':
      return 'en-US';
    case 'preferred_timezone':
      return 'Europe/Berlin';
    case 'actor':
      return 'admin';
    case 'from':
    case 'to':
      return '2020-01-01';
    case 'q':
    case 'user_q':
      return 'walk';
    case 'handle':
      return '0'.repeat(24);
    case 'file':
      return OMIT;
  }
  if (UNTICKED.has(name)) return isApi ? false : OMIT;
  if (CURSORS.has(name) && node.type === 'string') return OMIT;
  if (name === 'enabled' || name === 'writable' || name === 'executable') return isApi ? true : 'on';
  return undefined;
}

/** What a minimal request still carries: the credentials and the CSRF token. */
const ALWAYS = new Set(['api_key', 'api_key_secret', '_csrf']);

/**
 * A valid value for a schema node. `full`: objects get every property (see OMIT); minimal: only
 * the required ones — a field that a sibling shadows (username beside user_id) is reached so.
 */
function validValue(route: RouteEntry, name: string, node: JsonSchema, full: boolean): unknown {
  const chosen = plausible(route, name, node);
  if (chosen !== undefined) return chosen;
  if (node.const !== undefined) return node.const;
  if (node.enum) return node.enum[0];
  if (node.anyOf) return validValue(route, name, node.anyOf[0]!, full);
  const type = [node.type ?? []].flat().find((one) => one !== 'null');
  switch (type) {
    case 'object':
      return Object.fromEntries(
        Object.entries(node.properties ?? {}).flatMap(([key, child]) => {
          if (!full && !node.required?.includes(key) && !ALWAYS.has(key)) return [];
          const value = validValue(route, key, child, full);
          return value === OMIT ? [] : [[key, value]];
        }),
      );
    case 'array':
      return [validValue(route, name, node.items ?? {}, full)];
    case 'integer':
    case 'number':
      return node.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return node.format === 'uuid' ? ids.userId : 'walk';
    default:
      return OMIT; // no type: nothing a client types (an uploaded file)
  }
}

/** Every leaf of a schema: its path of keys and the name a message gives it. */
function leavesOf(node: JsonSchema, path: Array<string | number> = []): Array<Array<string | number>> {
  const type = [node.type ?? []].flat().find((one) => one !== 'null');
  if (type === 'object')
    return Object.entries(node.properties ?? {}).flatMap(([key, child]) => leavesOf(child, [...path, key]));
  if (type === 'array') return leavesOf(node.items ?? {}, [...path, 0]);
  return type || node.enum || node.anyOf || node.const !== undefined ? [path] : [];
}

const fieldName = (path: Array<string | number>) =>
  path.map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');

function withLeaf(value: unknown, path: Array<string | number>, leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path;
  const container = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>;
  const inner = container[head!] ?? (typeof rest[0] === 'number' ? [] : {});
  container[head!] = withLeaf(inner, rest, leaf);
  return container;
}

const SPOILS: Array<[string, (valid: unknown) => string]> = [
  ['NUL', (valid) => `${valid === OMIT || valid === undefined ? 'walk' : String(valid)}\u0000`],
  ['U+0007', (valid) => `${valid === OMIT || valid === undefined ? 'walk' : String(valid)}\u0007`],
  ['300 KB', () => 'x'.repeat(300 * 1024)],
  ['U+FFFE', (valid) => `${valid === OMIT || valid === undefined ? 'walk' : String(valid)}\uFFFE`],
];

interface Parts {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: Record<string, unknown> | undefined;
  /** HTTP Basic key:secret instead of api_key / api_key_secret in the body. */
  basic?: { key: string; secret: string };
}

function defaultParam(route: RouteEntry, name: string): string {
  const prefix = ['/admin/users', '/admin/groups', '/admin/workspaces', '/admin/api-keys', '/workspace-sessions'].find(
    (one) => route.url.startsWith(`${one}/`),
  );
  switch (name) {
    case 'id':
      return (
        {
          '/admin/users': ids.userId,
          '/admin/groups': ids.groupId,
          '/admin/workspaces': ids.workspaceId,
          '/admin/api-keys': ids.pageKeyId,
          '/workspace-sessions': ids.sessionId,
        }[prefix ?? ''] ?? ids.userId
      );
    case 'mappingId':
      return ids.mappingOf[prefix ?? ''] ?? ids.mappingOf['/admin/users']!;
    case 'userId':
      return ids.userId;
    case 'groupMappingId':
      return ids.groupMappingId;
    case 'groupId':
      return ids.groupId;
    case 'key':
      return route.url.startsWith('/profile/') ? 'ssh_public_key' : 'session_banner'; // free text, the deepest
    case 'handle':
      return '0'.repeat(24);
    default:
      return 'walk';
  }
}

function validParts(route: RouteEntry, full: boolean): Parts {
  const params = Object.fromEntries(
    Object.keys((route.schema.params as JsonSchema | undefined)?.properties ?? {}).map((name) => [
      name,
      defaultParam(route, name),
    ]),
  );
  const query = validValue(route, '', (route.schema.querystring as JsonSchema | undefined) ?? {}, full) as Record<
    string,
    unknown
  >;
  const body = route.schema.body
    ? (validValue(route, '', route.schema.body as JsonSchema, full) as Record<string, unknown>)
    : undefined;
  if (body && '_csrf' in body) body._csrf = route.url.startsWith('/login') ? ids.anonymous.csrf : admin.csrf;
  return { params, query, body };
}

const formValue = (value: unknown) => (value === null || value === undefined ? '' : String(value));

function requestOf(route: RouteEntry, parts: Parts): InjectOptions {
  const url = route.url.replace(/:([A-Za-z]+)/g, (_match, name: string) =>
    encodeURIComponent(formValue(parts.params[name])),
  );
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parts.query))
    for (const one of [value].flat()) query.append(name, formValue(one));
  const search = query.size > 0 ? `?${query}` : '';
  const isApi = route.url.startsWith('/api/');
  const client = route.url.startsWith('/login') ? ids.anonymous : admin;
  const headers: Record<string, string> = isApi ? {} : { cookie: client.cookieHeader() };
  if (parts.basic)
    headers.authorization = `Basic ${Buffer.from(`${parts.basic.key}:${parts.basic.secret}`).toString('base64')}`;
  const request: InjectOptions = { method: route.method as InjectOptions['method'], url: url + search, headers };
  if (parts.body === undefined) return request;
  if (isApi)
    return {
      ...request,
      payload: JSON.stringify(parts.body),
      headers: { ...headers, 'content-type': 'application/json' },
    };
  const fields = Object.entries(parts.body).flatMap(([name, value]) =>
    [value].flat().map((one) => [name, formValue(one)] as const),
  );
  if ('file' in ((route.schema.body as JsonSchema).properties ?? {})) {
    // The file mapping forms, as the browser sends them (multipart: text fields as parts).
    const boundary = 'deepwalk';
    const payload =
      fields
        .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
        .join('') + `--${boundary}--\r\n`;
    return {
      ...request,
      payload: Buffer.from(payload, 'utf8'),
      headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` },
    };
  }
  return {
    ...request,
    payload: new URLSearchParams(fields as Array<[string, string]>).toString(),
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
  };
}

interface Variant {
  name: string;
  /** The field a NUL must be named by. */
  field: string;
  parts: Parts;
}

function variants(route: RouteEntry): Variant[] {
  const list: Variant[] = [];
  const isApi = route.url.startsWith('/api/');
  const form = !isApi; // flat forms: an array field is the field repeated, named by its own name
  for (const [[spoil, spoiled], full] of SPOILS.flatMap(
    (one) =>
      [
        [one, true],
        [one, false],
      ] as const,
  )) {
    const base = () => validParts(route, full);
    // A leaf a minimal request leaves out is spoiled from its plausible value all the same.
    const validOf = (path: Array<string | number>, part: 'query' | 'body') =>
      path.reduce<unknown>(
        (at, key) => (at as Record<string | number, unknown> | undefined)?.[key],
        validParts(route, true)[part],
      );
    for (const name of Object.keys(base().params)) {
      const parts = base();
      parts.params[name] = spoiled(parts.params[name]);
      list.push({ name: `params ${name}${full ? '' : ' (minimal)'}: ${spoil}`, field: name, parts });
    }
    for (const path of leavesOf((route.schema.querystring as JsonSchema | undefined) ?? {})) {
      const parts = base();
      parts.query = withLeaf(parts.query, path, spoiled(validOf(path, 'query'))) as Record<string, unknown>;
      list.push({ name: `?${fieldName(path)}${full ? '' : ' (minimal)'}: ${spoil}`, field: String(path[0]), parts });
    }
    for (const path of route.schema.body ? leavesOf(route.schema.body as JsonSchema) : []) {
      const parts = base();
      parts.body = withLeaf(parts.body, path, spoiled(validOf(path, 'body'))) as Record<string, unknown>;
      list.push({
        name: `${fieldName(path)}${full ? '' : ' (minimal)'}: ${spoil}`,
        field: form ? String(path[0]) : fieldName(path),
        parts,
      });
    }
    if (isApi) {
      // The same key as HTTP Basic, each half spoiled (the body then carries no credentials).
      for (const half of ['key', 'secret'] as const) {
        const parts = base();
        delete parts.body!.api_key;
        delete parts.body!.api_key_secret;
        const basic = { key: ids.apiKey.key, secret: ids.apiKey.secret };
        basic[half] = spoiled(basic[half]);
        parts.basic = basic;
        list.push({
          name: `HTTP Basic ${half}${full ? '' : ' (minimal)'}: ${spoil}`,
          field: `The HTTP Basic ${half}`,
          parts,
        });
      }
    }
  }
  // A minimal request that is the full one (a form of required fields only) is sent once.
  const seen = new Set<string>();
  return list.filter((variant) => {
    const short = (_key: string, value: unknown) =>
      typeof value === 'string' && value.length > 1024 ? `${value.length} characters` : value;
    const key = JSON.stringify([variant.name.replace(' (minimal)', ''), variant.parts], short);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Routes whose valid request may destroy what the others use: each request gets fresh state. */
const FRESH: Record<string, (parts: Parts) => Promise<void>> = {
  'POST /api/public/delete_user': async (parts) => {
    const user = await seedUser(t.handle.db, `deep-doomed-${tally.sent}`, USER_PASSWORD);
    const target = parts.body!.target_user as Record<string, unknown>;
    // The walk's target becomes the fresh user; a spoiled leaf keeps its spoil.
    const swap = (value: unknown, from: string, to: string) =>
      String(value).startsWith(from) ? to + String(value).slice(from.length) : value;
    target.user_id = swap(target.user_id, ids.userId, user.id);
    target.username = swap(target.username, 'walk-target', user.username);
  },
};

const walked = t.app.routeIndex.filter((route) => {
  if (route.method === 'HEAD' || route.url.startsWith('/static/')) return false;
  const parts = [route.schema.params, route.schema.querystring, route.schema.body] as Array<JsonSchema | undefined>;
  return parts.some((part) => Object.keys(part?.properties ?? {}).length > 0);
});

describe('malformed input, one leaf at a time, on every route with a schema', () => {
  it('walks the route table, pages and API calls', () => {
    expect(walked.length).toBeGreaterThan(60);
    expect(walked.filter((route) => route.url.startsWith('/api/public/')).length).toBeGreaterThanOrEqual(18);
    expect(walked.some((route) => route.url === '/login' && route.method === 'POST')).toBe(true);
  });

  it.each(walked.map((route) => [`${route.method} ${route.url}`, route] as const))(
    '%s',
    async (where, route) => {
      const problems: string[] = [];
      for (const variant of variants(route)) {
        await FRESH[where]?.(variant.parts);
        const response = await t.app.inject(requestOf(route, variant.parts));
        tally.sent++;
        if (process.env.DEEP_WALK_DEBUG)
          appendFileSync(
            process.env.DEEP_WALK_DEBUG,
            `DBG ${where} | ${variant.name} | ${response.statusCode} | ${response.body.slice(response.body.indexOf('<h1'), response.body.indexOf('<h1') + 400).replace(/\s+/g, ' ')}\n`,
          );
        const said = `${variant.name} answered ${response.statusCode}: ${response.body.slice(0, 160)}`;
        if (response.statusCode >= 500) {
          tally.fiveHundreds++;
          problems.push(said);
        } else if (
          variant.name.endsWith(': NUL') &&
          (response.statusCode !== 400 || !response.body.includes(`${variant.field} must not contain a NUL character.`))
        ) {
          problems.push(`${said} (expected a 400 naming ${variant.field})`);
        }
      }
      expect(problems).toEqual([]);
      expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    },
    60_000,
  );

  it('leaves the admin logged in', async () => {
    expect((await admin.get('/profile')).statusCode).toBe(200);
  });
});
