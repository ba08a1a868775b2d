// An admin links a user to a directory entry, or unlinks them back to local
// (docs/rules.md#linking-a-user-to-a-directory). Linking decides who can log in as the user, so
// both follow no way up: an admin cannot link or unlink a user stronger than themselves.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import { isUuid } from '../db/sql-helpers.js';
import { userGroups, userIdentities, users, type User } from '../db/schema.js';
import { countActiveGlobalAdmins } from '../groups/groups-queries.js';
import { LastAdminError } from '../groups/last-admin.js';
import type { Actor } from '../security/actor.js';
import { passwordProblem } from '../security/password-policy.js';
import { hashPassword } from '../security/passwords.js';
import { hasPermission, lackingMessage } from '../security/permissions.js';
import { conflict, forbidden, invalid, notFound, ok, type Result } from '../security/result.js';
import type { SecretBox } from '../security/secret-box.js';
import { endUserSessions } from '../sessions/sessions-commands.js';
import { refuseStrongerUser } from '../users/users-commands.js';
import { findUserById } from '../users/users-queries.js';
import { directoryAttributeChanges } from './directory-attributes.js';
import { findUserByIdentity, identityOfUser } from './identities-queries.js';
import { findIdentityProvider, type StoredLdapConfig } from './identity-providers-queries.js';
import { testConnection, type LdapUser } from './ldap-directory.js';

const target = (user: Pick<User, 'id' | 'username'>) => ({ type: 'user', id: user.id, name: user.username });
const GONE = notFound('This user no longer exists.');
const LINK_NEEDS: ('users_modify' | 'auth_view')[] = ['users_modify', 'auth_view'];

async function refuseLacking(
  db: Database,
  actor: Actor,
  user: User,
  what: string,
  needed: ('users_modify' | 'auth_view')[],
) {
  const lacking = needed.filter((permission) => !hasPermission(actor.permissions, permission));
  if (lacking.length === 0) return null;
  const message = lackingMessage(what, lacking);
  await recordRefusal(db, actor, target(user), message, lacking);
  return forbidden(message, { lacking: lacking[0] });
}

type Looked = Result<{ provider: { id: string; name: string }; entry: LdapUser }>;

/**
 * The entry a directory finds for a name, for the admin to confirm before linking `user` (nothing
 * saved). It reads the directory with the service account: users_modify and auth_view.
 */
export async function lookUpDirectoryEntry(
  db: Database,
  box: SecretBox,
  actor: Actor,
  user: User,
  providerId: string,
  name: string,
): Promise<Looked> {
  const lacking = await refuseLacking(db, actor, user, `Looking up a directory entry for ${user.username}`, LINK_NEEDS);
  return lacking ?? findEntry(db, box, providerId, name);
}

async function findEntry(db: Database, box: SecretBox, providerId: string, name: string): Promise<Looked> {
  const provider = isUuid(providerId) ? await findIdentityProvider(db, providerId) : null;
  if (!provider || provider.kind !== 'ldap') return notFound('This directory no longer exists.');
  if (!name.trim()) return invalid('Enter the user name to look up in the directory.', { field: 'name' });
  const config = {
    ...(provider.config as unknown as StoredLdapConfig),
    bindPassword: provider.secret ? box.open(provider.secret) : '',
  };
  const found = await testConnection(config, name.trim());
  if (!found.ok)
    return found.kind === 'unavailable' || found.kind === 'tls'
      ? invalid(`The directory is unavailable: ${found.message}`, { field: 'name', reason: 'directory_unavailable' })
      : invalid(found.message, { field: 'name', reason: found.kind });
  return ok({ provider: { id: provider.id, name: provider.name }, entry: found.user });
}

/**
 * Links `userId` to the entry `name` finds in the directory, if it is still the entry the admin
 * confirmed (`expectedSubject`). The user becomes realm ldap: their local password and Force
 * Password Reset go, their sessions end, their attributes come from the directory.
 */
export async function linkDirectoryIdentity(
  db: Database,
  box: SecretBox,
  actor: Actor,
  input: { userId: string; providerId: string; name: string; expectedSubject: string; nowMs: number },
): Promise<Result<User>> {
  const before = await findUserById(db, input.userId);
  if (!before) return GONE;
  const lacking = await refuseLacking(db, actor, before, `Linking ${before.username} to a directory`, LINK_NEEDS);
  if (lacking) return lacking;
  // Before the directory is asked anything; checked again in the transaction.
  const stronger = await refuseStrongerUser(db, actor, before, 'ldap');
  if (stronger) return stronger;
  const looked = await findEntry(db, box, input.providerId, input.name);
  if (!looked.ok) return looked;
  const { provider, entry } = looked.value;
  if (entry.immutableId !== input.expectedSubject)
    return conflict('The directory entry for this name changed since you looked it up: look it up again.', {
      reason: 'stale',
    });
  return lastAdminOr(() =>
    db.transaction(async (tx) => {
      const user = await findUserById(tx, input.userId);
      if (!user) return GONE;
      const stronger = await refuseStrongerUser(tx, actor, user, 'ldap');
      if (stronger) return stronger;
      if (await identityOfUser(tx, user.id, provider.id))
        return conflict(`${user.username} is already linked to ${provider.name}: unlink first.`, {
          reason: 'already_linked',
        });
      const taken = await findUserByIdentity(tx, provider.id, entry.immutableId);
      if (taken)
        return conflict(`This directory entry is already linked to ${taken.user.username}.`, {
          field: 'name',
          reason: 'entry_linked',
        });
      const now = new Date(input.nowMs);
      const { set, changes } = directoryAttributeChanges(user, entry);
      const [linked] = await tx
        .update(users)
        .set({
          ...set,
          realm: 'ldap',
          passwordHash: null,
          forcePasswordReset: false,
          version: sql`${users.version} + 1`,
          updatedAt: now,
        })
        .where(eq(users.id, user.id))
        .returning();
      await tx.insert(userIdentities).values({
        userId: user.id,
        providerId: provider.id,
        subject: entry.immutableId,
        externalName: entry.dn,
        lastSyncAt: now,
      });
      // The last administrator must stay a local user who can log in (docs/rules.md#users).
      if ((await countActiveGlobalAdmins(tx)) === 0) throw new LastAdminError();
      await endUserSessions(tx, user.id);
      await recordAudit(tx, actor, {
        action: 'user_identity_linked',
        target: target(user),
        provider: provider.name,
        subject: entry.immutableId,
        dn: entry.dn,
        changes: {
          ...(user.realm !== 'ldap' ? { realm: { old: user.realm, new: 'ldap' } } : {}),
          ...(user.passwordHash ? { password: { old: '(hidden)', new: '(removed)' } } : {}),
          ...changes,
        },
      });
      return ok(linked!);
    }),
  );
}

async function lastAdminOr<T>(work: () => Promise<Result<T>>): Promise<Result<T>> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof LastAdminError) return conflict(error.message, { reason: 'last_admin' });
    throw error;
  }
}

/**
 * Unlinks a user from a directory: they become a local user with the password given (checked by
 * the password policy). Memberships the directory's mappings made stay, as manual ones.
 */
export async function unlinkDirectoryIdentity(
  db: Database,
  actor: Actor,
  input: { userId: string; identityId: string; password: string; passwordMinLength: number },
): Promise<Result<User>> {
  const before = await findUserById(db, input.userId);
  if (!before) return GONE;
  const lacking = await refuseLacking(db, actor, before, `Unlinking ${before.username} from a directory`, [
    'users_modify',
  ]);
  if (lacking) return lacking;
  const problem = passwordProblem(input.password, { username: before.username, minLength: input.passwordMinLength });
  if (problem) return invalid(problem, { field: 'password' });
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    const user = await findUserById(tx, input.userId);
    if (!user) return GONE;
    const stronger = await refuseStrongerUser(tx, actor, user, 'local');
    if (stronger) return stronger;
    const [identity] = await tx
      .delete(userIdentities)
      .where(and(eq(userIdentities.id, input.identityId), eq(userIdentities.userId, user.id)))
      .returning();
    if (!identity) return notFound('This identity is no longer linked to the user.');
    await tx
      .update(userGroups)
      .set({ sourceProviderId: null })
      .where(and(eq(userGroups.userId, user.id), eq(userGroups.sourceProviderId, identity.providerId)));
    const now = new Date();
    const [unlinked] = await tx
      .update(users)
      .set({ realm: 'local', passwordHash, passwordChangedAt: now, version: sql`${users.version} + 1`, updatedAt: now })
      .where(eq(users.id, user.id))
      .returning();
    await endUserSessions(tx, user.id);
    await recordAudit(tx, actor, {
      action: 'user_identity_unlinked',
      target: target(user),
      subject: identity.subject,
      dn: identity.externalName,
      changes: {
        ...(user.realm !== 'local' ? { realm: { old: user.realm, new: 'local' } } : {}),
        password: { old: '(hidden)', new: '(set)' },
      },
    });
    return ok(unlinked!);
  });
}
