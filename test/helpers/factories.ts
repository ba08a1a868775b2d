// The factories and look-ups the route and browser tests share, one copy each: groups (with a
// free priority picked here, so no test file counts priorities), logged-in clients, users made
// through the Add User form, and the newest audit event. Each test still makes what it needs.
import { and, desc, eq, type SQL } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/client.js';
import { auditEvents, groupPermissions, groups, groupSettings, identityProviders, users } from '../../src/db/schema.js';
import { TestClient } from './client.js';
import { USER_PASSWORD, type TestApp } from './test-app.js';

/**
 * A priority no group holds: one above the highest in use (All Users' 1000 aside), and at least
 * `from`. The one above it stays free too, as duplicating a group takes the next free ones.
 */
export async function freePriority(db: Database, from = 2): Promise<number> {
  const taken = (await db.select({ priority: groups.priority }).from(groups)).map((row) => row.priority);
  const priority = Math.max(from, ...taken.filter((p) => p < 1000).map((p) => p + 1));
  if (priority >= 1000) throw new Error('no free group priority below 1000');
  return priority;
}

export interface GroupFields {
  /** Defaults to "Group <priority>". */
  name?: string;
  /** Defaults to freePriority(db, priorityFrom). */
  priority?: number;
  priorityFrom?: number;
  description?: string;
  permissions?: readonly string[];
  settings?: Record<string, unknown>;
}

/** A group straight in the database with its permissions and settings; its row. */
export async function createGroup(db: Database, fields: GroupFields = {}) {
  const priority = fields.priority ?? (await freePriority(db, fields.priorityFrom));
  const [group] = await db
    .insert(groups)
    .values({
      name: fields.name ?? `Group ${priority}`,
      priority,
      ...(fields.description === undefined ? {} : { description: fields.description }),
    })
    .returning();
  const permissions = fields.permissions ?? [];
  if (permissions.length > 0)
    await db.insert(groupPermissions).values(permissions.map((permission) => ({ groupId: group!.id, permission })));
  for (const [key, value] of Object.entries(fields.settings ?? {}))
    await db.insert(groupSettings).values({ groupId: group!.id, key, value });
  return group!;
}

let providers = 0;

/** An identity provider straight in the database (an LDAP directory with no settings, enabled); its row. */
export async function createIdentityProvider(
  db: Database,
  fields: { name?: string; kind?: 'ldap' | 'oidc' | 'saml'; enabled?: boolean } = {},
) {
  const [provider] = await db
    .insert(identityProviders)
    .values({
      kind: fields.kind ?? 'ldap',
      name: fields.name ?? `Directory ${++providers} ${Math.random().toString(36).slice(2, 8)}`,
      config: {},
      enabled: fields.enabled ?? true,
    })
    .returning();
  return provider!;
}

/**
 * A client logged in as `username` (password USER_PASSWORD unless given), having then opened
 * `visit` ('/' by default; null opens nothing). `landing` is where the login sent it.
 */
export async function loggedInClient(
  app: FastifyInstance,
  username: string,
  options: { password?: string; visit?: string | null } = {},
): Promise<TestClient & { landing: string | undefined }> {
  const client = new TestClient(app);
  const response = await client.login(username, options.password ?? USER_PASSWORD);
  if (response.statusCode !== 303) throw new Error(`logging in ${username} answered ${response.statusCode}`);
  const visit = options.visit === undefined ? '/' : options.visit;
  if (visit !== null) await client.get(visit);
  return Object.assign(client, { landing: response.headers.location as string | undefined });
}

/** Look-ups and form-made users bound to a test file's app (and admin client) through getters, because they are made in that file's beforeAll. */

export function fixtures(app: () => TestApp, admin?: () => TestClient) {
  const db = () => app().handle.db;

  /** The user of that name, or undefined. */
  async function findUser(username: string) {
    return (await db().select().from(users).where(eq(users.username, username)))[0];
  }

  return {
    findUser,

    /** The user of that name (the test made them). */
    async userNamed(username: string) {
      const user = await findUser(username);
      if (!user) throw new Error(`no user ${username}`);
      return user;
    },

    /** A local user made through the Add User form by the admin client; their row. */
    async createUser(username: string, extra: Record<string, string> = {}) {
      if (!admin) throw new Error('createUser needs the admin client');
      const id = await admin().addUser(username, extra);
      return (await db().select().from(users).where(eq(users.id, id)))[0]!;
    },

    /** A local user made through the Add User form, logged in (see loggedInClient for `visit`). */
    async loggedInNewUser(username: string, extra: Record<string, string> = {}, visit: string | null = '/') {
      if (!admin) throw new Error('loggedInNewUser needs the admin client');
      await admin().addUser(username, extra);
      return loggedInClient(app().app, username, { visit });
    },

    /** A group made through the New Group form by the admin client (priority: a free one); its row. */
    async createGroupThroughForm(name: string, fields: { priority?: number; description?: string } = {}) {
      if (!admin) throw new Error('createGroupThroughForm needs the admin client');
      const priority = fields.priority ?? (await freePriority(db()));
      await admin().get('/admin/groups/new');
      const response = await admin().post('/admin/groups', {
        name,
        priority: String(priority),
        ...(fields.description === undefined ? {} : { description: fields.description }),
      });
      if (response.statusCode !== 303) throw new Error(`creating group ${name} answered ${response.statusCode}`);
      return (await db().select().from(groups).where(eq(groups.name, name)))[0]!;
    },

    /** The newest audit event of `action` (about `targetId`, when given). */
    async lastAudit(action: string, targetId?: string | null) {
      const where: SQL | undefined = targetId
        ? and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId))
        : eq(auditEvents.action, action);
      return (await db().select().from(auditEvents).where(where).orderBy(desc(auditEvents.id)).limit(1))[0];
    },
  };
}

/** The reason an audit event records (failed logins, refusals). */
export function reasonOf(event: { details: unknown } | undefined): string | undefined {
  return (event?.details as { reason?: string } | undefined)?.reason;
}

/** A local user made through the users command (no request); its row. Lives in test-app.ts, beside the app. */
export { seedUser } from './test-app.js';
