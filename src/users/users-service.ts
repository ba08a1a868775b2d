import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import { hashPassword } from '../security/passwords.js';
import type { Database } from '../db/client.js';
import type { User } from '../db/schema.js';
import { isUniqueViolation } from '../db/sql-helpers.js';
import {
  addMembers,
  assertAdministrable,
  effectivePermissionsOf,
  LastAdminError,
  permissionsOfGroups,
  systemGroupId,
} from '../groups/groups-repository.js';
import { autoAddGroups } from '../groups/groups-service.js';
import { refuseReachingUser } from '../groups/stronger-users.js';
import { lackingMessage, permissionsLacking, strongerUserBlocks } from '../security/permissions.js';
import { endUserSessions, endUserSessionsExcept } from '../sessions/sessions-commands.js';
import {
  clearTwoFactor,
  deleteUserById,
  findUserById,
  insertUser,
  updateUserAtVersion,
  usernameTaken,
} from './users-repository.js';
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

export type UserChangeResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'duplicate_username' | 'stale' | 'not_found' | 'last_admin' | 'forbidden'; message: string };

const NOT_FOUND = { ok: false, reason: 'not_found', message: 'This user no longer exists.' } as const;

/** A refusal for lack of permissions, recorded in the audit log (in the caller's transaction). */
async function refuse(
  db: Database,
  actor: Actor,
  user: Pick<User, 'id' | 'username'> | null,
  message: string,
  lacking: string[],
) {
  await recordRefusal(db, actor, user ? target(user) : undefined, message, lacking);
  return { ok: false, reason: 'forbidden', message } as const;
}

/**
 * No way up, for changes to an existing user (any field, 2FA reset, delete): when the user
 * effectively holds a permission the actor lacks, the change needs users_modify_admin.
 * `realm` is the realm the user will have after the change (a local user also gets the
 * auto-add groups' permissions). Returns the refusal, or null.
 */
export async function refuseStrongerUser(db: Database, actor: Actor, user: User, realm: string = user.realm) {
  const refused = await refuseReachingUser(
    db,
    actor,
    user,
    `Changing ${user.username}`,
    user.realm === 'local' ? 'local' : realm,
  );
  return refused && ({ ok: false, reason: 'forbidden', message: refused.message } as const);
}

/** Whether `actor` may change `user` at all (for showing or hiding the forms). */
export async function mayChangeUser(db: Database, actor: ReadonlySet<string>, user: User): Promise<boolean> {
  return strongerUserBlocks(actor, await effectivePermissionsOf(db, user.id, user.realm)).length === 0;
}

const DUPLICATE = {
  ok: false,
  reason: 'duplicate_username',
  message: 'A user with this User Name already exists (names are compared ignoring case).',
} as const;

const LAST_ADMIN = { ok: false, reason: 'last_admin', message: new LastAdminError().message } as const;

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
): Promise<UserChangeResult> {
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
      return { ok: true, user } as const;
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
): Promise<UserChangeResult> {
  const passwordHash = password === undefined ? undefined : await hashPassword(password);
  try {
    return await db.transaction(async (tx) => {
      const before = await findUserById(tx, id);
      if (!before) return NOT_FOUND;
      const refused = await refuseStrongerUser(tx, actor, before, input.realm);
      if (refused) return refused;
      if (before.version !== expectedVersion) {
        return {
          ok: false,
          reason: 'stale',
          message:
            'This user was changed by someone else since you opened the form. Review the values below and save again to overwrite.',
        } as const;
      }
      if (await usernameTaken(tx, input.username, id)) return DUPLICATE;
      const blocksLogin = (input.disabled && !before.disabled) || (input.locked && !before.locked);
      const unlocking = before.locked && !input.locked;
      const user = await updateUserAtVersion(tx, id, expectedVersion, {
        ...input,
        ...(passwordHash ? { passwordHash, passwordChangedAt: new Date() } : {}),
        // Clearing Locked also forgets the failures that led to it.
        ...(unlocking ? { failedLoginCount: 0, lockoutCount: 0, lockedUntil: null } : {}),
      });
      if (!user) {
        return {
          ok: false,
          reason: 'stale',
          message: 'This user was changed by someone else; reload and try again.',
        } as const;
      }
      // Disabling, locking, a realm change or a lost password can each leave no administrator.
      await assertAdministrable(tx);
      const changes = auditChanges(before, input);
      if (passwordHash) changes.password = { old: '(hidden)', new: '(changed)' };
      if (blocksLogin || passwordHash) await endUserSessions(tx, id);
      if (Object.keys(changes).length > 0) {
        await recordAudit(tx, actor, { action: 'user_updated', target: target(user), changes });
      }
      return { ok: true, user } as const;
    });
  } catch (error) {
    if (isUniqueViolation(error)) return DUPLICATE;
    if (error instanceof LastAdminError) return LAST_ADMIN;
    throw error;
  }
}

export async function deleteUser(db: Database, actor: Actor, id: string): Promise<UserChangeResult> {
  try {
    return await db.transaction(async (tx) => {
      const user = await findUserById(tx, id);
      if (!user) return NOT_FOUND;
      const refused = await refuseStrongerUser(tx, actor, user);
      if (refused) return refused;
      await deleteUserById(tx, id); // sessions and memberships go with it (ON DELETE CASCADE)
      await assertAdministrable(tx);
      await recordAudit(tx, actor, { action: 'user_deleted', target: target(user) });
      return { ok: true, user } as const;
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
): Promise<Exclude<UserChangeResult, { ok: true }> | { ok: true; user: User; hadFactor: boolean }> {
  return db.transaction(async (tx) => {
    const before = await findUserById(tx, id);
    if (!before) return NOT_FOUND;
    const refused = await refuseStrongerUser(tx, actor, before);
    if (refused) return refused;
    if (!hasSecondFactor(before)) return { ok: true, user: before, hadFactor: false } as const;
    const user = await updateUserAtVersion(tx, id, before.version, {});
    if (!user) return { ok: false, reason: 'stale', message: 'This user was changed meanwhile; try again.' } as const;
    await clearTwoFactor(tx, id);
    await recordAudit(tx, actor, {
      action: 'user_2fa_reset',
      target: target(user),
      changes: { two_factor_enabled: { old: before.twoFactorEnabled, new: false } },
    });
    return {
      ok: true,
      user: { ...user, twoFactorSecret: null, twoFactorEnabled: false, twoFactorLastStep: null },
      hadFactor: true,
    } as const;
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
