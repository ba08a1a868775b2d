// A user's identities at identity providers (docs/rules.md#realms): a login finds its user by
// (provider, subject) only — never by the typed name or an email address.
import { and, eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { userIdentities, users, type User, type UserIdentity } from '../db/schema.js';

export async function findUserByIdentity(
  db: Database,
  providerId: string,
  subject: string,
): Promise<{ user: User; identity: UserIdentity } | null> {
  const [row] = await db
    .select({ user: users, identity: userIdentities })
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.providerId, providerId), eq(userIdentities.subject, subject)));
  return row ?? null;
}

export async function identityOfUser(db: Database, userId: string, providerId: string): Promise<UserIdentity | null> {
  const [row] = await db
    .select()
    .from(userIdentities)
    .where(and(eq(userIdentities.userId, userId), eq(userIdentities.providerId, providerId)));
  return row ?? null;
}
