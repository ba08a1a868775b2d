// Look-ups and fixtures the route tests share, one copy each. Bound to a test file's app
// through a getter, because the app is made in that file's beforeAll.
import { and, desc, eq, type SQL } from 'drizzle-orm';
import { auditEvents, users } from '../../src/db/schema.js';
import type { TestClient } from './client.js';
import type { TestApp } from './test-app.js';

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
