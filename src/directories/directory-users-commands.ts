// What a directory login does to Roster's users (docs/rules.md#realms): the first login of an
// entry nobody is linked to creates its user (when the directory allows it), and every login
// refreshes the linked user's mapped attributes and identity. Changes are audited as the
// provider's own.
import { eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import { userIdentities, users, type User, type UserIdentity } from '../db/schema.js';
import { applyGroupMappings } from '../groups/group-mappings-commands.js';
import { addMembers } from '../groups/groups-commands.js';
import { systemGroupId } from '../groups/groups-queries.js';
import { providerActor } from '../security/actor.js';
import { mixedScriptProblem, nameProblem } from '../security/text-rules.js';
import { invalid, ok, uniqueOr, conflict, type Result } from '../security/result.js';
import { normalUserName } from '../users/user-validation.js';
import { usernameTaken } from '../users/users-queries.js';
import { directoryAttributeChanges } from './directory-attributes.js';
import type { LdapDirectory } from './identity-providers-queries.js';
import type { LdapUser } from './ldap-directory.js';

const userTarget = (user: Pick<User, 'id' | 'username'>) => ({ type: 'user', id: user.id, name: user.username });

/** The linked user after a successful directory login: attributes and identity refreshed. */
export async function refreshFromDirectory(
  db: Database,
  directory: LdapDirectory,
  user: User,
  identity: UserIdentity,
  entry: LdapUser,
  nowMs: number,
): Promise<User> {
  return db.transaction(async (tx) => {
    const now = new Date(nowMs);
    const { set, changes } = directoryAttributeChanges(user, entry);
    let current = user;
    if (Object.keys(changes).length > 0) {
      const [updated] = await tx
        .update(users)
        .set({ ...set, version: sql`${users.version} + 1`, updatedAt: now })
        .where(eq(users.id, user.id))
        .returning();
      if (updated) current = updated;
      await recordAudit(tx, providerActor({ ...directory, kind: 'ldap' }), {
        action: 'user_updated',
        target: userTarget(user),
        changes,
        reason: 'directory login',
      });
    }
    await tx
      .update(userIdentities)
      .set({ externalName: entry.dn, lastSyncAt: now })
      .where(eq(userIdentities.id, identity.id));
    await applyGroupMappings(tx, { ...directory, kind: 'ldap' }, current, entry.groups);
    return current;
  });
}

/**
 * A user name for a new directory user: the directory's own, or (when a Roster user already has
 * it) `name@domain` with the directory's first login domain, else `name-2`, `name-3`, … — never
 * the existing account (docs/rules.md#realms: no linking by name).
 */
export async function freeUsername(db: Database, wanted: string, loginDomains: readonly string[]): Promise<string> {
  const candidates = [wanted, ...loginDomains.slice(0, 1).map((domain) => `${wanted}@${domain}`)];
  for (const candidate of candidates) if (!(await usernameTaken(db, candidate))) return candidate;
  for (let n = 2; ; n++) if (!(await usernameTaken(db, `${wanted}-${n}`))) return `${wanted}-${n}`;
}

/** First login of an entry no Roster user is linked to: a new user in realm ldap, in All Users. */
export function createFromDirectory(
  db: Database,
  directory: LdapDirectory,
  entry: LdapUser,
  typedName: string,
  nowMs: number,
): Promise<Result<User>> {
  const wanted = normalUserName(entry.attributes.username ?? typedName).slice(0, 200);
  const problem = wanted === '' ? 'is empty' : (nameProblem(wanted) ?? mixedScriptProblem(wanted));
  if (problem)
    return Promise.resolve(invalid(`The directory's user name ${problem}.`, { reason: 'directory_username' }));
  return uniqueOr(conflict('Another login created this user at the same moment.'), () =>
    db.transaction(async (tx) => {
      const now = new Date(nowMs);
      const username = await freeUsername(tx, wanted, directory.config.loginDomains);
      const { set, changes } = directoryAttributeChanges(
        { email: '', firstName: '', lastName: '', phone: '', organization: '' },
        entry,
      );
      const [user] = await tx
        .insert(users)
        .values({ username, realm: 'ldap', ...set })
        .returning();
      await addMembers(tx, user!.id, [await systemGroupId(tx, 'all_users')]);
      await tx.insert(userIdentities).values({
        userId: user!.id,
        providerId: directory.id,
        subject: entry.immutableId,
        externalName: entry.dn,
        lastSyncAt: now,
      });
      await recordAudit(tx, providerActor({ ...directory, kind: 'ldap' }), {
        action: 'user_created',
        target: userTarget(user!),
        changes: {
          username: { old: null, new: username },
          realm: { old: null, new: 'ldap' },
          ...Object.fromEntries(Object.entries(changes).map(([key, change]) => [key, { old: null, new: change.new }])),
        },
        reason: username === wanted ? 'first directory login' : `first directory login; ${wanted} was taken`,
      });
      await applyGroupMappings(tx, { ...directory, kind: 'ldap' }, user!, entry.groups);
      return ok(user!);
    }),
  );
}
