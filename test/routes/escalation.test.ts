// No way up (docs/rules.md#permissions-and-no-way-up), modeled on Keycloak's IllegalAdminUpgradeTest: for every permission of
// the catalogue and every path that confers permissions, an actor holding everything except
// that permission tries to reach it — for themselves, for an account they can then log in as,
// or through what reaches a user holding it (their groups, a group's settings, mappings and
// priority, their sessions, a key's fields) — and is refused (403 naming it or
// users_modify_admin, audited, nothing changed); given the permission, the same actor succeeds. New permissions are covered by the catalogue loop; a new state-changing
// route fails the classification test below until it is listed as conferring (with a driver
// here) or as conferring nothing.
import { and, desc, eq, inArray } from 'drizzle-orm';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/security/passwords.js';
import {
  apiKeyPermissions,
  apiKeys,
  auditEvents,
  fileMappings,
  groupMappings,
  groupPermissions,
  groups,
  groupSettings,
  identityProviders,
  sessions,
  userGroups,
  userIdentities,
  users,
  workspaces,
  workspaceSessions,
} from '../../src/db/schema.js';
import { API_CALLS } from '../../src/api/api-calls.js';
import { callApi, insertApiKey, type TestApiKey } from '../helpers/api.js';
import { effectivePermissionsOfMembers, systemGroupId } from '../../src/groups/groups-queries.js';
import { PERMISSIONS, type Permission } from '../../src/security/permissions.js';
import type { TestClient } from '../helpers/client.js';
import { createGroup, createIdentityProvider, freePriority, loggedInClient } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { skipSlapdTests, slapdLdapConfig, startSlapd, type Slapd } from '../helpers/slapd.js';
import { createLdapProvider } from '../../src/directories/identity-providers-commands.js';
import { testConnection } from '../../src/directories/ldap-directory.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';

let t: TestApp;
let passwordHash: string;
let allUsersId: string;
let nextName = 1;
let created: { groups: string[]; users: string[]; apiKeys: string[]; workspaces: string[]; providers: string[] } = {
  groups: [],
  users: [],
  apiKeys: [],
  workspaces: [],
  providers: [],
};

let directory: { providerId: string; name: string; subject: string; slapd: Slapd | null };
beforeAll(async () => {
  t = await createTestApp();
  directory = await linkableDirectory();
  passwordHash = await hashPassword(USER_PASSWORD); // one hash for every fixture account (argon2 is slow on purpose)
  allUsersId = await systemGroupId(t.handle.db, 'all_users');
});
afterAll(async () => {
  await directory?.slapd?.stop();
  await t.close();
});

/**
 * A directory with one person, for the link path (a real slapd where it is installed); without
 * slapd only the unlink path, which asks no directory, is driven.
 */
async function linkableDirectory() {
  if (skipSlapdTests) {
    const [row] = await t.handle.db
      .insert(identityProviders)
      .values({ kind: 'ldap', name: 'Escalation', config: {} })
      .returning();
    return { providerId: row!.id, name: '', subject: '', slapd: null };
  }
  const slapd = await startSlapd();
  const { bindPassword, ...config } = slapdLdapConfig(slapd);
  const created = await createLdapProvider(t.handle.db, t.app.secretBox, SYSTEM_ACTOR, {
    name: 'Escalation',
    sortOrder: 1,
    config,
    bindPassword,
  });
  if (!created.ok) throw new Error(created.problem.message);
  const found = await testConnection(slapdLdapConfig(slapd), 'alice');
  if (!found.ok) throw new Error(found.message);
  return { providerId: created.value.id, name: 'alice', subject: found.user.immutableId, slapd };
}
afterEach(async () => {
  const db = t.handle.db;
  if (created.users.length > 0) await db.delete(users).where(inArray(users.id, created.users));
  if (created.groups.length > 0) await db.delete(groups).where(inArray(groups.id, created.groups));
  if (created.apiKeys.length > 0) await db.delete(apiKeys).where(inArray(apiKeys.id, created.apiKeys));
  if (created.workspaces.length > 0) await db.delete(workspaces).where(inArray(workspaces.id, created.workspaces));
  if (created.providers.length > 0)
    await db.delete(identityProviders).where(inArray(identityProviders.id, created.providers));
  created = { groups: [], users: [], apiKeys: [], workspaces: [], providers: [] };
  // Restore All Users' `user` (the case of that permission takes it away).
  await db.insert(groupPermissions).values({ groupId: allUsersId, permission: 'user' }).onConflictDoNothing();
});

// Fixtures, straight into the database: the paths under test are the only requests that matter.
async function makeGroup(name: string, permissions: readonly string[], settings: Record<string, unknown> = {}) {
  const priority = await freePriority(t.handle.db);
  const group = await createGroup(t.handle.db, { name: `${name} ${priority}`, priority, permissions, settings });
  created.groups.push(group.id);
  return group;
}

async function makeUser(name: string, groupIds: string[]) {
  const db = t.handle.db;
  const [user] = await db
    .insert(users)
    .values({ username: `${name}-${nextName++}`, passwordHash })
    .returning();
  created.users.push(user!.id);
  await db.insert(userGroups).values([allUsersId, ...groupIds].map((groupId) => ({ userId: user!.id, groupId })));
  return user!;
}

const grant = (groupId: string, permission: string) =>
  t.handle.db.insert(groupPermissions).values({ groupId, permission }).onConflictDoNothing();
const userRow = async (id: string) => (await t.handle.db.select().from(users).where(eq(users.id, id)))[0];
const isMember = async (userId: string, groupId: string) =>
  (
    await t.handle.db
      .select()
      .from(userGroups)
      .where(and(eq(userGroups.userId, userId), eq(userGroups.groupId, groupId)))
  ).length > 0;

interface Context {
  permission: Permission;
  actor: { id: string; client: TestClient };
  /** The group granting (or to be granted) the permission. */
  group: { id: string; name: string };
  /** The account that holds the permission, for the paths that change a user. */
  target: { id: string; username: string; version: number } | null;
  /** What else the path made to act on: a file mapping, a session. */
  item?: string;
}

interface ConferringPath {
  /** The route it drives, as the route table names it. */
  route: string;
  /** users_modify_admin is the explicit grant to change stronger users (docs/rules.md#permissions-and-no-way-up): the actor of these paths lacks it. */
  changesAUser?: boolean;
  setup(ctx: Omit<Context, 'group' | 'target'>): Promise<Pick<Context, 'group' | 'target' | 'item'>>;
  attempt(ctx: Context): Promise<{ statusCode: number; body: string }>;
  /** Whether the permission was conferred (or the stronger account taken over). */
  reached(ctx: Context): Promise<boolean>;
}

/** A group granting the permission, and a user who holds it through that group. */
async function strongerUser(ctx: Omit<Context, 'group' | 'target'>) {
  const group = await makeGroup('Holders', [ctx.permission]);
  const target = await makeUser('stronger', [group.id]);
  return { group, target };
}

/**
 * A user holding the permission (through a group of their own) and a plain group granting
 * nothing — so that only what reaches them is in question — which they are in when `member`.
 */
async function strongerAndPlainGroup(permission: Permission, member: boolean, settings: Record<string, unknown> = {}) {
  const holders = await makeGroup('Holders', [permission]);
  const target = await makeUser('stronger', [holders.id]);
  const group = await makeGroup('Plain', [], settings);
  if (member) await t.handle.db.insert(userGroups).values({ userId: target.id, groupId: group.id });
  return { group, target };
}

const settingOf = async (groupId: string, key: string) =>
  (
    await t.handle.db
      .select()
      .from(groupSettings)
      .where(and(eq(groupSettings.groupId, groupId), eq(groupSettings.key, key)))
  )[0];
const groupRow = async (id: string) => (await t.handle.db.select().from(groups).where(eq(groups.id, id)))[0];
const mappingRow = async (id: string) =>
  (await t.handle.db.select().from(fileMappings).where(eq(fileMappings.id, id)))[0];
const loginSessions = async (userId: string) =>
  (await t.handle.db.select().from(sessions).where(eq(sessions.userId, userId))).length;
const workspaceSessionRow = async (id: string) =>
  (await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.id, id)))[0];
const keyRow = async (id: string) => (await t.handle.db.select().from(apiKeys).where(eq(apiKeys.id, id)))[0]!;
const AUTHORIZED_KEYS = '/home/kasm-user/.ssh/authorized_keys';

/** A directory (an identity provider), and the user linked to it when given: its users are who a mapping adds. */
async function makeProvider(linked?: { id: string }) {
  const provider = await createIdentityProvider(t.handle.db);
  created.providers.push(provider.id);
  if (linked)
    await t.handle.db
      .insert(userIdentities)
      .values({ userId: linked.id, providerId: provider.id, subject: `entry-${nextName++}` });
  return provider.id;
}
const groupMapped = async (groupId: string) =>
  (await t.handle.db.select().from(groupMappings).where(eq(groupMappings.groupId, groupId))).length > 0;

async function insertGroupMapping(groupId: string) {
  const content = Buffer.from('ssh-ed25519 AAAA their own key');
  const [row] = await t.handle.db
    .insert(fileMappings)
    .values({ groupId, name: 'Keys', destinationPath: AUTHORIZED_KEYS, content, size: content.length, sha256: 'x' })
    .returning();
  return row!.id;
}

/** A login session of the user, as the session store writes it. */
async function insertLoginSession(userId: string) {
  await t.handle.db
    .insert(sessions)
    .values({ sid: `sid-${userId}-${nextName++}`, userId, data: {}, expiresAt: new Date(Date.now() + 3_600_000) });
}

/** A recorded workspace session of the user, its keepalive long ago. */
async function insertWorkspaceSession(userId: string) {
  const [row] = await t.handle.db
    .insert(workspaceSessions)
    .values({ userId, workspaceName: 'Desktop', plan: {}, keepaliveAt: new Date('2020-01-01T00:00:00Z') })
    .returning();
  return row!.id;
}

/** A key holding the permission, in the state `options` gives; the key stands in the group slot. */
async function keyHolding(
  permission: Permission,
  options: { readOnly?: boolean; enabled?: boolean; expiresAt?: Date | null } = {},
) {
  const name = `held key ${nextName++}`;
  const key = await insertApiKey(t.handle.db, { name, permissions: [permission], ...options });
  created.apiKeys.push(key.id);
  return { group: { id: key.id, name }, target: null };
}

/** The key form as it stands for the key in ctx.group (enabled, writable, no expiry unless given), with `changes`. */
const keyForm = (ctx: Context, changes: Record<string, string>) => ({
  name: ctx.group.name,
  enabled: 'on',
  ...changes,
});
const inDays = (days: number) => new Date(t.clock.now() + days * 86_400_000);
const formDate = (date: Date) => date.toISOString().slice(0, 16).replace('T', ' ');

/** The user form as it stands for `target`, with `changes`. */
function userForm(ctx: Context, changes: Record<string, string>) {
  const target = ctx.target!;
  return { username: target.username, realm: 'local', version: String(target.version), ...changes };
}

const PATHS: Record<string, ConferringPath> = {
  'grant a permission to a group the actor is in': {
    route: 'POST /admin/groups/:id/permissions',
    setup: async (ctx) => {
      const group = await makeGroup('Own', []);
      await t.handle.db.insert(userGroups).values({ userId: ctx.actor.id, groupId: group.id });
      return { group, target: null };
    },
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}/permissions`, { permission: [ctx.permission] }),
    reached: async (ctx) =>
      (
        await t.handle.db
          .select()
          .from(groupPermissions)
          .where(and(eq(groupPermissions.groupId, ctx.group.id), eq(groupPermissions.permission, ctx.permission)))
      ).length > 0,
  },
  'grant a permission to an API key (scripts then hold it)': {
    route: 'POST /admin/api-keys/:id/permissions',
    setup: async () => {
      const key = await insertApiKey(t.handle.db, { permissions: [] });
      created.apiKeys.push(key.id);
      return { group: { id: key.id, name: 'key' }, target: null };
    },
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/api-keys/${ctx.group.id}/permissions`, { permission: [ctx.permission] }),
    reached: async (ctx) =>
      (
        await t.handle.db
          .select()
          .from(apiKeyPermissions)
          .where(and(eq(apiKeyPermissions.apiKeyId, ctx.group.id), eq(apiKeyPermissions.permission, ctx.permission)))
      ).length > 0,
  },
  'add oneself to a group (group page)': {
    route: 'POST /admin/groups/:id/members',
    setup: async (ctx) => ({ group: await makeGroup('Granting', [ctx.permission]), target: null }),
    // confirm: the step the page asks for before adding to a group granting global_admin.
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}/members`, { user_id: ctx.actor.id, confirm: 'yes' }),
    reached: (ctx) => isMember(ctx.actor.id, ctx.group.id),
  },
  'add oneself to a group (user page)': {
    route: 'POST /admin/users/:id/groups',
    setup: async (ctx) => ({ group: await makeGroup('Granting', [ctx.permission]), target: null }),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/users/${ctx.actor.id}/groups`, { group_id: ctx.group.id, confirm: 'yes' }),
    reached: (ctx) => isMember(ctx.actor.id, ctx.group.id),
  },
  // An SSO group mapping adds the provider's users (the actor's own account at it, say) at their next login.
  "map a directory's users into a group (SSO group mapping)": {
    route: 'POST /admin/groups/:id/sso-mappings',
    setup: async (ctx) => ({
      group: await makeGroup('Granting', [ctx.permission]),
      target: null,
      item: await makeProvider(),
    }),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}/sso-mappings`, {
        provider_id: ctx.item!,
        all_users: 'true',
      }),
    reached: (ctx) => groupMapped(ctx.group.id),
  },
  'turn on auto_add_local_users (adds every local user, the actor included)': {
    route: 'POST /admin/groups/:id/settings',
    setup: async (ctx) => ({ group: await makeGroup('Granting', [ctx.permission]), target: null }),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}/settings`, { key: 'auto_add_local_users', value: 'true' }),
    reached: async (ctx) =>
      (
        await t.handle.db
          .select()
          .from(groupSettings)
          .where(and(eq(groupSettings.groupId, ctx.group.id), eq(groupSettings.key, 'auto_add_local_users')))
      ).length > 0,
  },
  'duplicate a group (the copy carries its permissions)': {
    route: 'POST /admin/groups/:id/duplicate',
    setup: async (ctx) => ({ group: await makeGroup('Granting', [ctx.permission]), target: null }),
    attempt: (ctx) => ctx.actor.client.post(`/admin/groups/${ctx.group.id}/duplicate`),
    reached: async (ctx) => {
      const copies = await t.handle.db
        .select()
        .from(groups)
        .where(eq(groups.name, `Copy of ${ctx.group.name}`));
      created.groups.push(...copies.map((copy) => copy.id));
      return copies.length > 0;
    },
  },
  'create a local user who joins an auto-add group': {
    route: 'POST /admin/users',
    setup: async (ctx) => ({
      group: await makeGroup('Auto', [ctx.permission], { auto_add_local_users: true }),
      target: null,
    }),
    attempt: (ctx) =>
      ctx.actor.client.post('/admin/users', {
        username: `made-by-${ctx.actor.id}`,
        password: USER_PASSWORD,
        realm: 'local',
      }),
    reached: async (ctx) => {
      const made = await t.handle.db
        .select()
        .from(users)
        .where(eq(users.username, `made-by-${ctx.actor.id}`));
      created.users.push(...made.map((user) => user.id));
      return made.length > 0;
    },
  },
  "set a stronger user's password": {
    route: 'POST /admin/users/:id',
    changesAUser: true,
    setup: strongerUser,
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/users/${ctx.target!.id}`, userForm(ctx, { password: 'a brand new password' })),
    reached: async (ctx) => (await userRow(ctx.target!.id))!.passwordHash !== passwordHash,
  },
  "change a stronger user's realm": {
    route: 'POST /admin/users/:id',
    changesAUser: true,
    setup: strongerUser,
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}`, userForm(ctx, { realm: 'ldap' })),
    reached: async (ctx) => (await userRow(ctx.target!.id))!.realm !== 'local',
  },
  'lock a stronger user': {
    route: 'POST /admin/users/:id',
    changesAUser: true,
    setup: strongerUser,
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}`, userForm(ctx, { locked: 'true' })),
    reached: async (ctx) => (await userRow(ctx.target!.id))!.locked,
  },
  'disable a stronger user': {
    route: 'POST /admin/users/:id',
    changesAUser: true,
    setup: strongerUser,
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}`, userForm(ctx, { disabled: 'true' })),
    reached: async (ctx) => (await userRow(ctx.target!.id))!.disabled,
  },
  ...(skipSlapdTests
    ? {}
    : {
        'link a stronger user to a directory entry (whoever knows its password logs in as them)': {
          route: 'POST /admin/users/:id/identity',
          changesAUser: true,
          setup: strongerUser,
          attempt: (ctx: Context) =>
            ctx.actor.client.post(`/admin/users/${ctx.target!.id}/identity`, {
              provider_id: directory.providerId,
              name: directory.name,
              subject: directory.subject,
            }),
          reached: async (ctx: Context) => (await userRow(ctx.target!.id))!.realm === 'ldap',
        },
      }),
  'unlink a stronger user from their directory, setting their password': {
    route: 'POST /admin/users/:id/identity/:identityId/unlink',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerUser(ctx);
      await t.handle.db.update(users).set({ realm: 'ldap', passwordHash: null }).where(eq(users.id, made.target.id));
      const [identity] = await t.handle.db
        .insert(userIdentities)
        .values({ userId: made.target.id, providerId: directory.providerId, subject: `s-${made.target.id}` })
        .returning();
      return { ...made, item: identity!.id };
    },
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/users/${ctx.target!.id}/identity/${ctx.item}/unlink`, {
        password: 'a password of my choosing',
        password_confirm: 'a password of my choosing',
      }),
    reached: async (ctx) => (await userRow(ctx.target!.id))!.realm === 'local',
  },
  "reset a stronger user's 2FA": {
    route: 'POST /admin/users/:id/reset-2fa',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerUser(ctx);
      // A factor to reset (a reset of none changes nothing).
      await t.handle.db
        .update(users)
        .set({ twoFactorEnabled: true, twoFactorSecret: 'sealed' })
        .where(eq(users.id, made.target.id));
      return made;
    },
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}/reset-2fa`, { confirm: 'yes' }),
    reached: async (ctx) => !(await userRow(ctx.target!.id))!.twoFactorEnabled,
  },
  'delete a stronger user': {
    route: 'POST /admin/users/:id/delete',
    changesAUser: true,
    setup: strongerUser,
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}/delete`),
    reached: async (ctx) => (await userRow(ctx.target!.id)) === undefined,
  },
  // What reaches a stronger user: their groups, those groups' content, their sessions.
  'add a stronger user to a group (group page)': {
    route: 'POST /admin/groups/:id/members',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, false),
    attempt: (ctx) => ctx.actor.client.post(`/admin/groups/${ctx.group.id}/members`, { user_id: ctx.target!.id }),
    reached: (ctx) => isMember(ctx.target!.id, ctx.group.id),
  },
  'add a stronger user to a group (user page)': {
    route: 'POST /admin/users/:id/groups',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, false),
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}/groups`, { group_id: ctx.group.id }),
    reached: (ctx) => isMember(ctx.target!.id, ctx.group.id),
  },
  'remove a stronger user from a group (group page)': {
    route: 'POST /admin/groups/:id/members/:userId/remove',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true),
    attempt: (ctx) => ctx.actor.client.post(`/admin/groups/${ctx.group.id}/members/${ctx.target!.id}/remove`),
    reached: async (ctx) => !(await isMember(ctx.target!.id, ctx.group.id)),
  },
  'remove a stronger user from a group (user page)': {
    route: 'POST /admin/users/:id/groups/:groupId/remove',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true),
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}/groups/${ctx.group.id}/remove`),
    reached: async (ctx) => !(await isMember(ctx.target!.id, ctx.group.id)),
  },
  "map a stronger user's directory into a group (they join it at their next login)": {
    route: 'POST /admin/groups/:id/sso-mappings',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerAndPlainGroup(ctx.permission, false);
      return { ...made, item: await makeProvider(made.target) };
    },
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}/sso-mappings`, {
        provider_id: ctx.item!,
        all_users: 'true',
      }),
    reached: (ctx) => groupMapped(ctx.group.id),
  },
  "set a setting of a stronger user's group (run_config reaches their sessions)": {
    route: 'POST /admin/groups/:id/settings',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}/settings`, {
        key: 'run_config',
        value: '{"privileged":true}',
      }),
    reached: async (ctx) => (await settingOf(ctx.group.id, 'run_config')) !== undefined,
  },
  "remove a setting of a stronger user's group": {
    route: 'POST /admin/groups/:id/settings/:key/remove',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true, { session_banner: 'Monitored' }),
    attempt: (ctx) => ctx.actor.client.post(`/admin/groups/${ctx.group.id}/settings/session_banner/remove`),
    reached: async (ctx) => (await settingOf(ctx.group.id, 'session_banner')) === undefined,
  },
  "add a file mapping to a stronger user's group (at their authorized_keys)": {
    route: 'POST /admin/groups/:id/file-mappings',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true),
    attempt: (ctx) =>
      ctx.actor.client.postMultipart(`/admin/groups/${ctx.group.id}/file-mappings`, {
        name: 'Keys',
        destination_path: AUTHORIZED_KEYS,
        content: 'ssh-ed25519 AAAA the actor',
      }),
    reached: async (ctx) =>
      (await t.handle.db.select().from(fileMappings).where(eq(fileMappings.groupId, ctx.group.id))).length > 0,
  },
  "change a file mapping of a stronger user's group": {
    route: 'POST /admin/groups/:id/file-mappings/:mappingId',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerAndPlainGroup(ctx.permission, true);
      return { ...made, item: await insertGroupMapping(made.group.id) };
    },
    attempt: (ctx) =>
      ctx.actor.client.postMultipart(`/admin/groups/${ctx.group.id}/file-mappings/${ctx.item}`, {
        name: 'Keys',
        destination_path: AUTHORIZED_KEYS,
        content: 'ssh-ed25519 AAAA the actor',
      }),
    reached: async (ctx) => (await mappingRow(ctx.item!))!.content.toString().includes('the actor'),
  },
  "delete a file mapping of a stronger user's group": {
    route: 'POST /admin/groups/:id/file-mappings/:mappingId/delete',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerAndPlainGroup(ctx.permission, true);
      return { ...made, item: await insertGroupMapping(made.group.id) };
    },
    attempt: (ctx) => ctx.actor.client.post(`/admin/groups/${ctx.group.id}/file-mappings/${ctx.item}/delete`),
    reached: async (ctx) => (await mappingRow(ctx.item!)) === undefined,
  },
  "change the priority of a stronger user's group (it decides whose settings win)": {
    route: 'POST /admin/groups/:id',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/groups/${ctx.group.id}`, {
        name: ctx.group.name,
        description: '',
        priority: '999',
      }),
    reached: async (ctx) => (await groupRow(ctx.group.id))!.priority === 999,
  },
  "delete a stronger user's group": {
    route: 'POST /admin/groups/:id/delete',
    changesAUser: true,
    setup: (ctx) => strongerAndPlainGroup(ctx.permission, true),
    attempt: (ctx) => ctx.actor.client.post(`/admin/groups/${ctx.group.id}/delete`),
    reached: async (ctx) => (await groupRow(ctx.group.id)) === undefined,
  },
  'log out a stronger user': {
    route: 'POST /admin/users/:id/logout',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerUser(ctx);
      await insertLoginSession(made.target.id);
      return made;
    },
    attempt: (ctx) => ctx.actor.client.post(`/admin/users/${ctx.target!.id}/logout`, { confirm: 'yes' }),
    reached: async (ctx) => (await loginSessions(ctx.target!.id)) === 0,
  },
  "end a stronger user's workspace session": {
    route: 'POST /workspace-sessions/:id/end',
    changesAUser: true,
    setup: async (ctx) => {
      const made = await strongerUser(ctx);
      return { ...made, item: await insertWorkspaceSession(made.target.id) };
    },
    attempt: (ctx) => ctx.actor.client.post(`/workspace-sessions/${ctx.item}/end`, { confirm: 'yes' }),
    reached: async (ctx) => (await workspaceSessionRow(ctx.item!)) === undefined,
  },
  // Every field of a key holding the permission hands on what it holds.
  'turn read-only off on an API key holding it': {
    route: 'POST /admin/api-keys/:id',
    setup: (ctx) => keyHolding(ctx.permission, { readOnly: true }),
    attempt: (ctx) => ctx.actor.client.post(`/admin/api-keys/${ctx.group.id}`, keyForm(ctx, {})),
    reached: async (ctx) => !(await keyRow(ctx.group.id)).readOnly,
  },
  'enable an API key holding it': {
    route: 'POST /admin/api-keys/:id',
    setup: (ctx) => keyHolding(ctx.permission, { enabled: false }),
    attempt: (ctx) => ctx.actor.client.post(`/admin/api-keys/${ctx.group.id}`, keyForm(ctx, {})),
    reached: async (ctx) => (await keyRow(ctx.group.id)).enabled,
  },
  'move the expiry of an API key holding it later': {
    route: 'POST /admin/api-keys/:id',
    setup: (ctx) => keyHolding(ctx.permission, { expiresAt: inDays(1) }),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/api-keys/${ctx.group.id}`, keyForm(ctx, { expires: formDate(inDays(365)) })),
    reached: async (ctx) => (await keyRow(ctx.group.id)).expiresAt!.getTime() > inDays(2).getTime(),
  },
  'remove the expiry of an API key holding it': {
    route: 'POST /admin/api-keys/:id',
    setup: (ctx) => keyHolding(ctx.permission, { expiresAt: inDays(1) }),
    attempt: (ctx) => ctx.actor.client.post(`/admin/api-keys/${ctx.group.id}`, keyForm(ctx, { expires: '' })),
    reached: async (ctx) => (await keyRow(ctx.group.id)).expiresAt === null,
  },
  'rename an API key holding it': {
    route: 'POST /admin/api-keys/:id',
    setup: (ctx) => keyHolding(ctx.permission),
    attempt: (ctx) =>
      ctx.actor.client.post(`/admin/api-keys/${ctx.group.id}`, keyForm(ctx, { name: `${ctx.group.name} renamed` })),
    reached: async (ctx) => (await keyRow(ctx.group.id)).name.endsWith('renamed'),
  },
};

// State-changing routes that confer no permission, each with the reason.
const CONFERS_NOTHING: Record<string, string> = {
  'POST /login': 'logs in as oneself',
  'POST /login/code': 'second step of logging in as oneself',
  'POST /logout': "ends one's own session",
  'POST /password-reset': "one's own password",
  'POST /admin/groups': 'a new group grants nothing and has no members',
  'POST /profile/settings': "one's own preferences",
  'POST /profile/settings/:key': "one's own preferences",
  'POST /profile/password': "one's own password",
  'POST /profile/sessions/:handle/end': "one's own sessions",
  'POST /profile/sessions/end-others': "one's own sessions",
  'POST /profile/2fa/enroll/start': "one's own second factor",
  'POST /profile/2fa/enroll': "one's own second factor",
  'POST /profile/2fa/remove': "one's own second factor",
  'POST /admin/workspaces': 'a workspace is an image to launch; it grants nothing',
  'POST /admin/workspaces/:id': 'image, resources and run options: no permissions',
  'POST /admin/workspaces/:id/delete': 'removes a workspace (defaults fall back)',
  'POST /admin/users/:id/default-image':
    'a preference of the user; changing a stronger user needs users_modify_admin (tested in workspaces.test.ts)',
  'POST /launch': "records one's own workspace session",
  'POST /admin/api-keys': 'a new key holds no permissions',
  'POST /admin/api-keys/:id/delete': 'removes a key',
  ...(skipSlapdTests ? { 'POST /admin/users/:id/identity': 'driven where slapd is installed (always under CI)' } : {}),
  // Identity providers (auth_modify, admin-grade: docs/rules.md#permissions-and-no-way-up). A
  // provider decides who logs in, but confers permissions only through its group mappings,
  // which are classified with the group routes that make them.
  'POST /admin/auth/ldap': 'adds a disabled directory; permissions come only from group mappings',
  'POST /admin/auth/:id': "a directory's connection settings; permissions come only from group mappings",
  'POST /admin/auth/:id/enable': 'lets a directory take logins; permissions come only from group mappings',
  'POST /admin/auth/:id/disable': 'stops a directory taking logins',
  'POST /admin/auth/:id/delete': 'removes a directory (its users stay, unlinked)',
  'POST /admin/auth/:id/test': 'looks a user up in the directory; saves nothing',
  'POST /admin/auth/:id/sync':
    "refreshes linked users' attributes, disables those gone, applies the group mappings (each made under no way up)",
  'POST /admin/groups/:id/sso-mappings/:groupMappingId/remove':
    'removes a mapping; the memberships it made go at the next login or sync',
  'POST /api/public/delete_group_mapping': 'removes a mapping; the memberships it made go at the next login or sync',
  'POST /api/public/update_user_attributes':
    "a user's preferences; a stronger user needs users_modify_admin (tested in api.test.ts)",
};
// Every get_* call is a POST that only reads.
for (const call of API_CALLS)
  if (call.name.startsWith('get_')) CONFERS_NOTHING[`POST /api/public/${call.name}`] = 'reads only';
// File mappings place files, not permissions; a stronger user's own mappings need
// users_modify_admin like any change to them (tested in workspaces.test.ts), and a group's are
// drivers above. A workspace's reach everyone who launches it: images_modify is admin-grade.
for (const owner of ['workspaces', 'users']) {
  CONFERS_NOTHING[`POST /admin/${owner}/:id/file-mappings`] = 'places a file in workspaces; grants no permission';
  CONFERS_NOTHING[`POST /admin/${owner}/:id/file-mappings/:mappingId`] = 'changes a placed file; grants no permission';
  CONFERS_NOTHING[`POST /admin/${owner}/:id/file-mappings/:mappingId/delete`] = 'removes a placed file';
}

describe('every state-changing route is classified', () => {
  it('as a conferring path with a driver here, or as conferring nothing', () => {
    const conferring = new Set([...Object.values(PATHS), ...Object.values(API_PATHS)].map((path) => path.route));
    const stateChanging = t.app.routeIndex
      .filter((route) => !['GET', 'HEAD', 'OPTIONS'].includes(route.method))
      .map((route) => `${route.method} ${route.url}`);
    const unclassified = stateChanging.filter((route) => !conferring.has(route) && !(route in CONFERS_NOTHING));
    expect(unclassified, 'new state-changing routes: add a driver to PATHS or a reason to CONFERS_NOTHING').toEqual([]);
    expect([...conferring].filter((route) => !stateChanging.includes(route))).toEqual([]);
    expect(
      Object.keys(CONFERS_NOTHING).filter((route) => conferring.has(route)),
      'a route with a driver confers something',
    ).toEqual([]);
  });
});

describe.each(Object.entries(PATHS))('no way up: %s', (_name, path) => {
  it.each(PERMISSIONS.map((permission) => [permission]))(
    '%s: refused without it, allowed with it',
    async (permission) => {
      const db = t.handle.db;
      // Everything but the permission (global_admin would imply it), as a group of the actor's own.
      const withheld = new Set<string>([
        'global_admin',
        permission,
        ...(path.changesAUser ? ['users_modify_admin'] : []),
      ]);
      const actorGroup = await makeGroup(
        'Actor',
        PERMISSIONS.filter((p) => !withheld.has(p)),
      );
      const actorUser = await makeUser('actor', [actorGroup.id]);
      const client = await loggedInClient(t.app, actorUser.username, { visit: null });
      // Every account holds `user` through All Users; to try conferring it, All Users loses it
      // after the actor logged in (permissions are read on every request).
      if (permission === 'user')
        await db
          .delete(groupPermissions)
          .where(and(eq(groupPermissions.groupId, allUsersId), eq(groupPermissions.permission, 'user')));
      const base = { permission, actor: { id: actorUser.id, client } };
      const ctx: Context = { ...base, ...(await path.setup(base)) };
      if (ctx.target) ctx.target.version = (await userRow(ctx.target.id))!.version;
      await client.get('/profile'); // a page, for a CSRF token

      const refused = await path.attempt(ctx);
      expect([403, 404], refused.body.slice(0, 300)).toContain(refused.statusCode);
      expect(await path.reached(ctx), 'conferred although refused').toBe(false);
      if (refused.statusCode === 403) {
        // A 404 means the group is hidden from the actor (they lack a view permission).
        expect(refused.body).toContain(permission);
        const [audit] = await db
          .select()
          .from(auditEvents)
          .where(eq(auditEvents.actorId, actorUser.id))
          .orderBy(desc(auditEvents.id))
          .limit(1);
        expect(audit).toMatchObject({ action: 'authz_fail', outcome: 'failure' });
        expect(JSON.stringify(audit!.details)).toContain(permission);
      }

      await grant(actorGroup.id, permission);
      await client.get('/profile');
      const allowed = await path.attempt(ctx);
      expect(
        allowed.statusCode,
        allowed.body.slice(allowed.body.indexOf('<main'), allowed.body.indexOf('<main') + 400),
      ).toBe(303);
      expect(await path.reached(ctx), 'not done although allowed').toBe(true);
    },
  );
});

// The same rule when the actor is an API key (docs/rules.md#developer-api: the key's own permissions, the same
// services): a key holding everything but the permission tries to confer it.
interface ApiContext {
  permission: Permission;
  key: TestApiKey;
  group: { id: string; name: string };
  target: { id: string; username: string } | null;
  /** What else the path made to act on: a workspace session, a workspace. */
  item?: string;
}

interface ApiConferringPath {
  route: string;
  changesAUser?: boolean;
  setup(permission: Permission): Promise<Pick<ApiContext, 'group' | 'target' | 'item'>>;
  attempt(ctx: ApiContext): ReturnType<typeof callApi>;
  reached(ctx: ApiContext): Promise<boolean>;
}

const API_PATHS: Record<string, ApiConferringPath> = {
  'API: create a local user who joins an auto-add group': {
    route: 'POST /api/public/create_user',
    setup: async (permission) => ({
      group: await makeGroup('Auto', [permission], { auto_add_local_users: true }),
      target: null,
    }),
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'create_user', {
        target_user: { username: `api-made-${ctx.key.id}`, password: USER_PASSWORD },
      }),
    reached: async (ctx) => {
      const made = await t.handle.db
        .select()
        .from(users)
        .where(eq(users.username, `api-made-${ctx.key.id}`));
      created.users.push(...made.map((user) => user.id));
      return made.length > 0;
    },
  },
  'API: add a user to a group': {
    route: 'POST /api/public/add_user_group',
    setup: async (permission) => ({
      group: await makeGroup('Granting', [permission]),
      target: await makeUser('joiner', []),
    }),
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'add_user_group', {
        target_user: { user_id: ctx.target!.id },
        target_group: { group_id: ctx.group.id },
      }),
    reached: (ctx) => isMember(ctx.target!.id, ctx.group.id),
  },
  "API: map a directory's users into a group": {
    route: 'POST /api/public/add_group_mapping',
    setup: async (permission) => ({
      group: await makeGroup('Granting', [permission]),
      target: null,
      item: await makeProvider(),
    }),
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'add_group_mapping', {
        target_group: { group_id: ctx.group.id },
        target_group_mapping: { provider_id: ctx.item, all_users: true },
      }),
    reached: (ctx) => groupMapped(ctx.group.id),
  },
  "API: map a stronger user's directory into a group": {
    route: 'POST /api/public/add_group_mapping',
    changesAUser: true,
    setup: async (permission) => {
      const made = await strongerAndPlainGroup(permission, false);
      return { ...made, item: await makeProvider(made.target) };
    },
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'add_group_mapping', {
        target_group: { group_id: ctx.group.id },
        target_group_mapping: { provider_id: ctx.item, all_users: true },
      }),
    reached: (ctx) => groupMapped(ctx.group.id),
  },
  "API: set a stronger user's password": {
    route: 'POST /api/public/update_user',
    changesAUser: true,
    setup: async (permission) => {
      const group = await makeGroup('Holders', [permission]);
      return { group, target: await makeUser('stronger', [group.id]) };
    },
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'update_user', {
        target_user: { user_id: ctx.target!.id, password: 'a brand new password' },
      }),
    reached: async (ctx) => (await userRow(ctx.target!.id))!.passwordHash !== passwordHash,
  },
  'API: delete a stronger user': {
    route: 'POST /api/public/delete_user',
    changesAUser: true,
    setup: async (permission) => {
      const group = await makeGroup('Holders', [permission]);
      return { group, target: await makeUser('stronger', [group.id]) };
    },
    attempt: (ctx) => callApi(t.app, ctx.key, 'delete_user', { target_user: { user_id: ctx.target!.id } }),
    reached: async (ctx) => (await userRow(ctx.target!.id)) === undefined,
  },
  'API: add a stronger user to a group': {
    route: 'POST /api/public/add_user_group',
    changesAUser: true,
    setup: (permission) => strongerAndPlainGroup(permission, false),
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'add_user_group', {
        target_user: { user_id: ctx.target!.id },
        target_group: { group_id: ctx.group.id },
      }),
    reached: (ctx) => isMember(ctx.target!.id, ctx.group.id),
  },
  'API: remove a stronger user from a group': {
    route: 'POST /api/public/remove_user_group',
    changesAUser: true,
    setup: (permission) => strongerAndPlainGroup(permission, true),
    attempt: (ctx) =>
      callApi(t.app, ctx.key, 'remove_user_group', {
        target_user: { user_id: ctx.target!.id },
        target_group: { group_id: ctx.group.id },
      }),
    reached: async (ctx) => !(await isMember(ctx.target!.id, ctx.group.id)),
  },
  'API: log out a stronger user': {
    route: 'POST /api/public/logout_user',
    changesAUser: true,
    setup: async (permission) => {
      const made = await strongerAndPlainGroup(permission, false);
      await insertLoginSession(made.target.id);
      return made;
    },
    attempt: (ctx) => callApi(t.app, ctx.key, 'logout_user', { target_user: { user_id: ctx.target!.id } }),
    reached: async (ctx) => (await loginSessions(ctx.target!.id)) === 0,
  },
  'API: launch a workspace for a stronger user': {
    route: 'POST /api/public/request_kasm',
    changesAUser: true,
    setup: async (permission) => {
      const made = await strongerAndPlainGroup(permission, false);
      const [workspace] = await t.handle.db
        .insert(workspaces)
        .values({ friendlyName: `Desktop ${nextName++}`, image: 'kasmweb/desktop:1.16.0' })
        .returning();
      created.workspaces.push(workspace!.id);
      return { ...made, item: workspace!.id };
    },
    attempt: (ctx) => callApi(t.app, ctx.key, 'request_kasm', { user_id: ctx.target!.id, image_id: ctx.item }),
    reached: async (ctx) =>
      (await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, ctx.target!.id))).length >
      0,
  },
  "API: end a stronger user's workspace session": {
    route: 'POST /api/public/destroy_kasm',
    changesAUser: true,
    setup: async (permission) => {
      const made = await strongerAndPlainGroup(permission, false);
      return { ...made, item: await insertWorkspaceSession(made.target.id) };
    },
    attempt: (ctx) => callApi(t.app, ctx.key, 'destroy_kasm', { kasm_id: ctx.item }),
    reached: async (ctx) => (await workspaceSessionRow(ctx.item!)) === undefined,
  },
  "API: keep a stronger user's workspace session alive": {
    route: 'POST /api/public/keepalive',
    changesAUser: true,
    setup: async (permission) => {
      const made = await strongerAndPlainGroup(permission, false);
      return { ...made, item: await insertWorkspaceSession(made.target.id) };
    },
    attempt: (ctx) => callApi(t.app, ctx.key, 'keepalive', { kasm_id: ctx.item }),
    reached: async (ctx) => (await workspaceSessionRow(ctx.item!))!.keepaliveAt.getFullYear() > 2020,
  },
};

describe.each(Object.entries(API_PATHS))('no way up: %s', (_name, path) => {
  it.each(PERMISSIONS.map((permission) => [permission]))(
    '%s: refused without it, allowed with it',
    async (permission) => {
      const db = t.handle.db;
      const withheld = new Set<string>([
        'global_admin',
        permission,
        ...(path.changesAUser ? ['users_modify_admin'] : []),
      ]);
      const key = await insertApiKey(db, { permissions: PERMISSIONS.filter((p) => !withheld.has(p)) });
      created.apiKeys.push(key.id);
      const ctx: ApiContext = { permission, key, ...(await path.setup(permission)) };

      const refused = await path.attempt(ctx);
      expect([403, 404], refused.body).toContain(refused.statusCode);
      expect(await path.reached(ctx), 'conferred although refused').toBe(false);
      if (refused.statusCode === 403) {
        expect(refused.json().error_message).toContain(permission);
        const [audit] = await db
          .select()
          .from(auditEvents)
          .where(eq(auditEvents.actorId, key.id))
          .orderBy(desc(auditEvents.id))
          .limit(1);
        expect(audit).toMatchObject({ action: 'authz_fail', outcome: 'failure', actorType: 'api_key' });
        expect(JSON.stringify(audit!.details)).toContain(permission);
      }

      await db.insert(apiKeyPermissions).values({ apiKeyId: key.id, permission });
      const allowed = await path.attempt(ctx);
      expect(allowed.statusCode, allowed.body).toBe(200);
      expect(await path.reached(ctx), 'not done although allowed').toBe(true);
    },
  );
});

describe('users_modify_admin', () => {
  it("is what lets an actor change a stronger user (Kasm's rule for admins, generalised)", async () => {
    const strong = await makeGroup('Strong', ['audit_view']);
    const target = await makeUser('strong', [strong.id]);
    const actorGroup = await makeGroup('Helpdesk', ['users_view', 'users_modify']);
    const actor = await makeUser('helpdesk', [actorGroup.id]);
    const client = await loggedInClient(t.app, actor.username, { visit: null });
    await client.get(`/admin/users/${target.id}`);
    const form = { username: target.username, realm: 'local', version: String(target.version), first_name: 'Changed' };
    const refused = await client.post(`/admin/users/${target.id}`, form);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain(
      `Changing ${target.username} needs users_modify_admin: they hold audit_view, which you do not.`,
    );
    await grant(actorGroup.id, 'users_modify_admin');
    await client.get(`/admin/users/${target.id}`);
    expect((await client.post(`/admin/users/${target.id}`, form)).statusCode).toBe(303);
    expect((await userRow(target.id))!.firstName).toBe('Changed');
  });

  it("also guards a user who will gain an auto-add group's permissions at their next login", async () => {
    const ldapUser = (
      await t.handle.db
        .insert(users)
        .values({ username: `ldap-${nextName++}`, realm: 'ldap' })
        .returning()
    )[0]!;
    created.users.push(ldapUser.id);
    await t.handle.db.insert(userGroups).values({ userId: ldapUser.id, groupId: allUsersId });
    const actorGroup = await makeGroup('Helpdesk', ['users_view', 'users_modify']);
    const actor = await makeUser('helpdesk', [actorGroup.id]);
    const client = await loggedInClient(t.app, actor.username, { visit: null });
    // Made after the actor's login (at which they, a local user, would have joined it themselves).
    await makeGroup('Auto Audit', ['audit_view'], { auto_add_local_users: true });
    await client.get(`/admin/users/${ldapUser.id}`);
    // Making them local with a password would hand the actor an account that gets audit_view.
    const takeover = await client.post(`/admin/users/${ldapUser.id}`, {
      username: ldapUser.username,
      realm: 'local',
      password: 'a brand new password',
      version: String(ldapUser.version),
    });
    expect(takeover.statusCode, `${takeover.headers.location} ${takeover.body.slice(0, 200)}`).toBe(403);
    expect(takeover.body).toContain('audit_view');
    expect((await userRow(ldapUser.id))!.realm).toBe('ldap');
  });
});

describe('what reaches a user, beyond the matrix', () => {
  it("a group's members hold together what effectivePermissionsOf gives each (auto-add groups for local members)", async () => {
    const db = t.handle.db;
    const auditors = await makeGroup('Auditors', ['audit_view']);
    const keyAdmins = await makeGroup('Key admins', ['devapi_view']);
    await makeGroup('Auto', ['images_view'], { auto_add_local_users: true });
    const local = await makeUser('local', [auditors.id]);
    const ldap = (
      await db
        .insert(users)
        .values({ username: `ldap-${nextName++}`, realm: 'ldap' })
        .returning()
    )[0]!;
    created.users.push(ldap.id);
    await db.insert(userGroups).values([allUsersId, keyAdmins.id].map((groupId) => ({ userId: ldap.id, groupId })));
    const both = await makeGroup('Both', []);
    const ldapOnly = await makeGroup('LDAP only', []);
    await db.insert(userGroups).values([
      { userId: local.id, groupId: both.id },
      { userId: ldap.id, groupId: both.id },
      { userId: ldap.id, groupId: ldapOnly.id },
    ]);
    const sorted = (set: Set<string>) => [...set].sort();
    expect(sorted(await effectivePermissionsOfMembers(db, both.id))).toEqual([
      'audit_view',
      'devapi_view',
      'images_view',
      'user',
    ]);
    // An LDAP user does not join the auto-add groups.
    expect(sorted(await effectivePermissionsOfMembers(db, ldapOnly.id))).toEqual(['devapi_view', 'user']);
    // Turning auto-add on makes every local user a member, the first administrator included.
    expect(await effectivePermissionsOfMembers(db, ldapOnly.id, { withLocalUsers: true })).toContain('global_admin');
    expect(
      await effectivePermissionsOfMembers(db, (await makeGroup('Auto too', [], { auto_add_local_users: true })).id),
    ).toContain('global_admin');
    expect(sorted(await effectivePermissionsOfMembers(db, (await makeGroup('Empty', [])).id))).toEqual([]);
  });

  it('an auto-add group reaches every local user: changing it, or turning auto-add on, needs users_modify_admin', async () => {
    const autoAdd = await makeGroup('Everyone local', [], { auto_add_local_users: true });
    const plain = await makeGroup('Plain', []);
    const deputyGroup = await makeGroup('Deputy', ['user', 'groups_view', 'groups_modify']);
    const deputy = await makeUser('deputy', [deputyGroup.id]);
    const client = await loggedInClient(t.app, deputy.username, { visit: null });
    await client.get('/profile');
    // The first administrator is local: they receive what the group sets at their next login.
    const setting = await client.post(`/admin/groups/${autoAdd.id}/settings`, {
      key: 'run_config',
      value: '{"privileged":true}',
    });
    expect(setting.statusCode).toBe(403);
    expect(setting.body).toContain('users_modify_admin');
    expect(setting.body).toContain('global_admin');
    const turnOn = await client.post(`/admin/groups/${plain.id}/settings`, {
      key: 'auto_add_local_users',
      value: 'true',
    });
    expect(turnOn.statusCode).toBe(403);
    expect(turnOn.body).toContain('users_modify_admin');
    expect(await settingOf(autoAdd.id, 'run_config')).toBeUndefined();
    expect(await settingOf(plain.id, 'auto_add_local_users')).toBeUndefined();

    await grant(deputyGroup.id, 'users_modify_admin');
    await client.get('/profile');
    expect(
      (await client.post(`/admin/groups/${autoAdd.id}/settings`, { key: 'run_config', value: '{"privileged":true}' }))
        .statusCode,
    ).toBe(303);
    expect(
      (await client.post(`/admin/groups/${plain.id}/settings`, { key: 'auto_add_local_users', value: 'true' }))
        .statusCode,
    ).toBe(303);
  });

  it("offers no form that would be refused: a stronger key's fields, a stronger user's log out and session end", async () => {
    const deputyGroup = await makeGroup('Deputy', [
      'user',
      'users_view',
      'users_auth_session',
      'devapi_view',
      'devapi_modify',
    ]);
    const deputy = await makeUser('deputy', [deputyGroup.id]);
    const strong = await strongerAndPlainGroup('audit_view', false);
    await insertWorkspaceSession(strong.target.id);
    const { group: key } = await keyHolding('audit_view');
    const client = await loggedInClient(t.app, deputy.username, { visit: null });
    const keyPage = (await client.get(`/admin/api-keys/${key.id}`)).body;
    expect(keyPage).toContain('This key holds audit_view, which you do not');
    expect(keyPage).not.toContain('Save API Key');
    const userPage = (await client.get(`/admin/users/${strong.target.id}`)).body;
    expect(userPage).not.toContain(`/admin/users/${strong.target.id}/logout`);
    expect(userPage).not.toMatch(/workspace-sessions\/[^"]+\/end/);

    await grant(deputyGroup.id, 'audit_view');
    expect((await client.get(`/admin/api-keys/${key.id}`)).body).toContain('Save API Key');
    const allowedPage = (await client.get(`/admin/users/${strong.target.id}`)).body;
    expect(allowedPage).toContain(`/admin/users/${strong.target.id}/logout`);
    expect(allowedPage).toMatch(/workspace-sessions\/[^"]+\/end/);
  });

  it('leaves system groups to groups_modify_system: their settings change without users_modify_admin', async () => {
    const deputyGroup = await makeGroup('Deputy', [
      'user',
      'groups_view',
      'groups_modify',
      'groups_view_system',
      'groups_modify_system',
    ]);
    const deputy = await makeUser('deputy', [deputyGroup.id]);
    const client = await loggedInClient(t.app, deputy.username, { visit: null });
    await client.get('/profile');
    expect(
      (await client.post(`/admin/groups/${allUsersId}/settings`, { key: 'session_banner', value: 'Monitored' }))
        .statusCode,
    ).toBe(303);
    expect((await client.post(`/admin/groups/${allUsersId}/settings/session_banner/remove`)).statusCode).toBe(303);
  });
});
