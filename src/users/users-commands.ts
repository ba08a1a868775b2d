// Every change to a user (docs/rules.md#users): each command runs one transaction, checks no way
// up (docs/rules.md#permissions-and-no-way-up) and the last-admin guard, audits its success and
// its own refusals, and returns one Result.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import { hashPassword } from '../security/passwords.js';
import { conflict, forbidden, notFound, ok, type Result } from '../security/result.js';
import type { Database } from '../db/client.js';
import { recoveryCodes, userIdentities, users, type NewUser, type User } from '../db/schema.js';
import { isUniqueViolation } from '../db/sql-helpers.js';
import { addMembers } from '../groups/groups-commands.js';
import { autoAddGroups, permissionsOfGroups, systemGroupId } from '../groups/groups-queries.js';
import { assertAdministrable, LastAdminError } from '../groups/last-admin.js';
import { refuseReachingUser } from '../groups/stronger-users.js';
import { lackingMessage, permissionsLacking, type Permission } from '../security/permissions.js';
import { endUserSessions, endUserSessionsExcept } from '../sessions/sessions-commands.js';
import { findUserById, usernameTaken } from './users-queries.js';
import type { TwoFactorPolicy } from '../settings/two-factor-policy.js';
import { USER_FLAG_FIELDS, USER_TEXT_FIELDS, type UserInput } from './user-validation.js';

// Fields whose old and new values the audit log records (never the password).
const AUDITED_FIELDS = [
  { key: 'username', prop: 'username' },
  { key: 'realm', prop: 'realm' },
  { key: 'notes', prop: 'notes' },
  ...USER_TEXT_FIELDS,
  ...USER_FLAG_FIELDS,
] as const satisfies ReadonlyArray<{ key: string; prop: keyof UserInput }>;

const NOT_FOUND = notFound('This user no longer exists.');

/** A refusal for lack of permissions, recorded in the audit log (in the caller's transaction). */
async function refuse(
  db: Database,
  actor: Actor,
  user: Pick<User, 'id' | 'username'> | null,
  message: string,
  lacking: string[],
) {
  await recordRefusal(db, actor, user ? target(user) : undefined, message, lacking);
  return forbidden(message, { lacking: lacking[0] as Permission });
}

/**
 * No way up, for changes to an existing user (any field, 2FA reset, delete): when the user
 * effectively holds a permission the actor lacks, the change needs users_modify_admin.
 * `realm` is the realm the user will have after the change (a local user also gets the
 * auto-add groups' permissions). Returns the refusal (audited), or null.
 */
export async function refuseStrongerUser(db: Database, actor: Actor, user: User, realm: string = user.realm) {
  const refused = await refuseReachingUser(
    db,
    actor,
    user,
    `Changing ${user.username}`,
    user.realm === 'local' ? 'local' : realm,
  );
  return refused && forbidden(refused.message, { lacking: refused.lacking[0], reason: 'stronger_user' });
}

const DUPLICATE = conflict('A user with this User Name already exists (names are compared ignoring case).', {
  field: 'username',
  reason: 'duplicate_username',
});

const LAST_ADMIN = conflict(new LastAdminError().message, { reason: 'last_admin' });

function auditChanges(before: UserInput, after: UserInput) {
  const changes: Record<string, { old: unknown; new: unknown }> = {};
  for (const { key, prop } of AUDITED_FIELDS) {
    if (before[prop] !== after[prop]) changes[key] = { old: before[prop], new: after[prop] };
  }
  return changes;
}

const target = (user: Pick<User, 'id' | 'username'>) => ({ type: 'user', id: user.id, name: user.username });

/**
 * Creates a user in All Users (and `extraGroupIds`; a local user also in the auto-add groups),
 * recording it in the audit log. No way up: the actor sets the new account's password, so they
 * must hold every permission those groups grant.
 */
export async function createUser(
  db: Database,
  actor: Actor,
  input: UserInput,
  password: string | undefined,
  extraGroupIds: string[] = [],
): Promise<Result<User>> {
  const passwordHash = password === undefined ? null : await hashPassword(password);
  try {
    return await db.transaction(async (tx) => {
      if (await usernameTaken(tx, input.username)) return DUPLICATE;
      const autoAdd = input.realm === 'local' ? (await autoAddGroups(tx)).map((group) => group.id) : [];
      const groupIds = [await systemGroupId(tx, 'all_users'), ...autoAdd, ...extraGroupIds];
      const lacking = permissionsLacking(actor.permissions, await permissionsOfGroups(tx, groupIds));
      if (lacking.length > 0) {
        const message = lackingMessage(
          `Creating ${input.realm === 'local' ? 'a local user (who joins the Auto Add Local Users groups)' : 'this user'}`,
          lacking,
        );
        return refuse(tx, actor, null, message, lacking);
      }
      const user = await insertUser(tx, {
        ...input,
        passwordHash,
        passwordChangedAt: passwordHash ? new Date() : null,
      });
      await addMembers(tx, user.id, groupIds);
      const created = Object.fromEntries(
        AUDITED_FIELDS.filter(({ prop }) => input[prop] !== '' && input[prop] !== false).map(({ key, prop }) => [
          key,
          { old: null, new: input[prop] },
        ]),
      );
      await recordAudit(tx, actor, { action: 'user_created', target: target(user), changes: created });
      return ok(user);
    });
  } catch (error) {
    if (isUniqueViolation(error)) return DUPLICATE; // a concurrent create won the race
    throw error;
  }
}

/**
 * Saves an admin's edit if the user is still at `expectedVersion`. A new password, or
 * disabling or locking the user, ends all of their sessions.
 */
export async function updateUser(
  db: Database,
  actor: Actor,
  id: string,
  expectedVersion: number,
  input: UserInput,
  password: string | undefined,
): Promise<Result<User>> {
  const passwordHash = password === undefined ? undefined : await hashPassword(password);
  try {
    return await db.transaction(async (tx) => {
      const before = await findUserById(tx, id);
      if (!before) return NOT_FOUND;
      const refused = await refuseStrongerUser(tx, actor, before, input.realm);
      if (refused) return refused;
      if (before.version !== expectedVersion) {
        return conflict(
          'This user was changed by someone else since you opened the form. Review the values below and save again to overwrite.',
          { reason: 'stale' },
        );
      }
      if (await usernameTaken(tx, input.username, id)) return DUPLICATE;
      if (input.realm !== before.realm && (await hasIdentity(tx, id)))
        return conflict(
          `${before.username} is linked to a directory: unlink them (Directory identity, below) to change the realm.`,
          { field: 'realm', reason: 'linked' },
        );
      const blocksLogin = (input.disabled && !before.disabled) || (input.locked && !before.locked);
      const unlocking = before.locked && !input.locked;
      const user = await updateUserAtVersion(tx, id, expectedVersion, {
        ...input,
        ...(passwordHash ? { passwordHash, passwordChangedAt: new Date() } : {}),
        // Clearing Locked also forgets the failures that led to it.
        ...(unlocking ? { failedLoginCount: 0, lockoutCount: 0, lockedUntil: null } : {}),
      });
      if (!user) {
        return conflict('This user was changed by someone else; reload and try again.', { reason: 'stale' });
      }
      // Disabling, locking, a realm change or a lost password can each leave no administrator.
      await assertAdministrable(tx);
      const changes = auditChanges(before, input);
      if (passwordHash) changes.password = { old: '(hidden)', new: '(changed)' };
      if (blocksLogin || passwordHash) await endUserSessions(tx, id);
      if (Object.keys(changes).length > 0) {
        await recordAudit(tx, actor, { action: 'user_updated', target: target(user), changes });
      }
      return ok(user);
    });
  } catch (error) {
    if (isUniqueViolation(error)) return DUPLICATE;
    if (error instanceof LastAdminError) return LAST_ADMIN;
    throw error;
  }
}

export async function deleteUser(db: Database, actor: Actor, id: string): Promise<Result<User>> {
  try {
    return await db.transaction(async (tx) => {
      const user = await findUserById(tx, id);
      if (!user) return NOT_FOUND;
      const refused = await refuseStrongerUser(tx, actor, user);
      if (refused) return refused;
      await deleteUserById(tx, id); // sessions and memberships go with it (ON DELETE CASCADE)
      await assertAdministrable(tx);
      await recordAudit(tx, actor, { action: 'user_deleted', target: target(user) });
      return ok(user);
    });
  } catch (error) {
    if (error instanceof LastAdminError) return LAST_ADMIN;
    throw error;
  }
}

/** Whether the user has a second factor to reset: enrolled, or an enrolment begun (a secret). */
export const hasSecondFactor = (user: Pick<User, 'twoFactorEnabled' | 'twoFactorSecret'>) =>
  user.twoFactorEnabled || user.twoFactorSecret !== null;

/** What follows an admin's reset of a user's second factor, as the page and its message say it. */
export function afterTwoFactorReset(policy: TwoFactorPolicy): string {
  if (policy.required)
    return 'They enrol again at their next login (a group of theirs requires two-factor authentication).';
  if (policy.selfEnrollment) return 'They can enrol again from their profile.';
  return 'They log in with their password alone: no group of theirs requires a second factor or lets them enrol one.';
}

/**
 * Clears the user's 2FA secret; they must enrol again at their next login where 2FA is required.
 * A user without a second factor is left alone (`hadFactor` false) and nothing is audited: no
 * change happened.
 */
export async function resetTwoFactor(
  db: Database,
  actor: Actor,
  id: string,
): Promise<Result<{ user: User; hadFactor: boolean }>> {
  return db.transaction(async (tx) => {
    const before = await findUserById(tx, id);
    if (!before) return NOT_FOUND;
    const refused = await refuseStrongerUser(tx, actor, before);
    if (refused) return refused;
    if (!hasSecondFactor(before)) return ok({ user: before, hadFactor: false });
    const user = await updateUserAtVersion(tx, id, before.version, {});
    if (!user) return conflict('This user was changed meanwhile; try again.', { reason: 'stale' });
    await clearTwoFactor(tx, id);
    await recordAudit(tx, actor, {
      action: 'user_2fa_reset',
      target: target(user),
      changes: { two_factor_enabled: { old: before.twoFactorEnabled, new: false } },
    });
    return ok({
      user: { ...user, twoFactorSecret: null, twoFactorEnabled: false, twoFactorLastStep: null },
      hadFactor: true,
    });
  });
}

/**
 * A user sets their own new password (the forced reset, or the profile form). Ends their
 * other sessions, keeping `keepSessionId`.
 */
export async function changeOwnPassword(
  db: Database,
  actor: Actor,
  userId: string,
  newPassword: string,
  keepSessionId: string,
): Promise<void> {
  const passwordHash = await hashPassword(newPassword);
  await db.transaction(async (tx) => {
    const before = await findUserById(tx, userId);
    if (!before) throw new Error('user vanished while changing password');
    await updateUserAtVersion(tx, userId, before.version, {
      passwordHash,
      passwordChangedAt: new Date(),
      forcePasswordReset: false,
    });
    await endUserSessionsExcept(tx, userId, keepSessionId);
    await recordAudit(tx, actor, {
      action: 'authn_password_change',
      target: target(before),
      changes: {
        password: { old: '(hidden)', new: '(changed)' },
        ...(before.forcePasswordReset ? { force_password_reset: { old: true, new: false } } : {}),
      },
    });
  });
}

async function hasIdentity(db: Database, userId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: userIdentities.id })
    .from(userIdentities)
    .where(eq(userIdentities.userId, userId))
    .limit(1);
  return row !== undefined;
}

async function insertUser(db: Database, values: NewUser): Promise<User> {
  const [user] = await db.insert(users).values(values).returning();
  if (!user) throw new Error('insert returned no user');
  return user;
}

/**
 * Updates a user only if it is still at `expectedVersion` (optimistic locking). Returns the
 * updated user, or undefined when someone else changed (or deleted) it in the meantime.
 */
async function updateUserAtVersion(
  db: Database,
  id: string,
  expectedVersion: number,
  changes: Partial<NewUser>,
): Promise<User | undefined> {
  const [user] = await db
    .update(users)
    .set({ ...changes, version: sql`${users.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(users.id, id), eq(users.version, expectedVersion)))
    .returning();
  return user;
}

async function deleteUserById(db: Database, id: string): Promise<boolean> {
  const deleted = await db.delete(users).where(eq(users.id, id)).returning({ id: users.id });
  return deleted.length > 0;
}

/**
 * Clears a user's factor and recovery codes, inside the transaction of the command that audits it
 * (their own removal on the profile, or an admin's reset here).
 */
export async function clearTwoFactor(db: Database, userId: string): Promise<void> {
  await db
    .update(users)
    .set({ twoFactorSecret: null, twoFactorEnabled: false, twoFactorLastStep: null })
    .where(eq(users.id, userId));
  await db.delete(recoveryCodes).where(eq(recoveryCodes.userId, userId));
}
