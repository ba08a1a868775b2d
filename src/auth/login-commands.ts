import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { anonymousActor, SYSTEM_ACTOR, type Actor } from '../security/actor.js';
import { autoAddGroups, countActiveGlobalAdmins, permissionsOfUser } from '../groups/groups-queries.js';
import type { Database } from '../db/client.js';
import { userGroups, users, type User, type UserIdentity } from '../db/schema.js';
import { createFromDirectory, refreshFromDirectory } from '../directories/directory-users-commands.js';
import { findUserByIdentity } from '../directories/identities-queries.js';
import { enabledLdapDirectories, type LdapDirectory } from '../directories/identity-providers-queries.js';
import { directoryForLogin } from '../directories/ldap-config.js';
import { authenticate } from '../directories/ldap-directory.js';
import { hasPermission } from '../security/permissions.js';
import { endUserSessions } from '../sessions/sessions-commands.js';
import { findUserByUsername } from '../users/users-queries.js';
import { lockoutIsPermanent, temporaryLockoutSeconds } from '../security/lockout.js';
import { hashPassword, needsRehash, timingDummyHash, verifyPassword } from '../security/passwords.js';
import type { SecretBox } from '../security/secret-box.js';
import { verifySecondFactor } from './two-factor-commands.js';

export type LoginResult = { ok: true; user: User } | { ok: false };

/** Why a login failed: for the audit log only, never shown to the person logging in. */
type FailureReason =
  | 'unknown_user'
  | 'bad_password'
  | 'bad_second_factor'
  | 'replayed_second_factor'
  | 'disabled'
  | 'locked'
  | 'temporarily_locked_out'
  | 'no_local_password'
  | 'no_login_permission'
  | 'empty_password'
  | 'directory_unavailable'
  | 'directory_ambiguous'
  | 'directory_user_not_linked'
  | 'directory_username_unusable';

/** The lockout settings (MAX_LOGIN_ATTEMPTS, LOCK_AFTER_TEMPORARY_LOCKOUTS), and the time of the attempt. */
export interface LockoutSettings {
  maxAttempts: number;
  lockAfter: number;
  /** Epoch ms (the app's clock, so tests set the time instead of waiting out a lockout). */
  nowMs: number;
}

interface LoginAttempt extends LockoutSettings {
  username: string;
  password: string;
  ip: string;
  /** A failure answers no sooner than this (ms of real time): see attemptLogin. */
  failureMinMs?: number;
}

// No stored user name has one, and a NUL cannot even be sent to the database in a query.
const CONTROL_CHARACTER = /\p{Cc}/u;

const userTarget = (user: User) => ({ type: 'user', id: user.id, name: user.username });

function loginFailed(db: Database, actor: Actor, user: User | undefined, reason: FailureReason): Promise<void> {
  return recordAudit(db, actor, {
    action: 'authn_login_fail',
    outcome: 'failure',
    target: user ? userTarget(user) : undefined,
    reason,
  });
}

/**
 * Takes an attempt slot before a credential is checked: the increment is atomic, so parallel
 * guesses cannot all pass a "fewer than max failures" check that each read before the others
 * wrote. Returns the failure count including this attempt, or null while locked out.
 */
async function reserveAttempt(
  db: Database,
  userId: string,
  maxAttempts: number,
  nowMs: number,
): Promise<number | null> {
  const [slot] = await db
    .update(users)
    .set({ failedLoginCount: sql`${users.failedLoginCount} + 1` })
    .where(
      and(
        eq(users.id, userId),
        eq(users.locked, false),
        eq(users.disabled, false),
        or(isNull(users.lockedUntil), lt(users.lockedUntil, new Date(nowMs))),
        lt(users.failedLoginCount, maxAttempts),
      ),
    )
    .returning({ failedLoginCount: users.failedLoginCount });
  return slot ? slot.failedLoginCount : null;
}

/**
 * Checks a user name and password (docs/rules.md#login-two-factor-and-lockout): a local user's
 * against their argon2 hash, anyone else's against the directory that knows them
 * (docs/rules.md#realms). Every failure looks the same to the caller and answers no sooner than
 * `failureMinMs` after the attempt began, so neither the answer nor its timing tells whether the
 * account exists, which directory holds it, or why it failed; the audit log records the real
 * reason. Success resets the failure count; the login itself completes with `completeLogin`
 * (after a second factor, if any).
 */
export async function attemptLogin(db: Database, box: SecretBox, attempt: LoginAttempt): Promise<LoginResult> {
  const started = performance.now();
  const result = await checkCredentials(db, box, attempt);
  const wait = started + (attempt.failureMinMs ?? 0) - performance.now();
  if (!result.ok && wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  return result;
}

async function checkCredentials(db: Database, box: SecretBox, attempt: LoginAttempt): Promise<LoginResult> {
  const typedIsStorable = !CONTROL_CHARACTER.test(attempt.username);
  const user = typedIsStorable ? await findUserByUsername(db, attempt.username) : undefined;
  if (user?.realm === 'local' || !typedIsStorable) return localLogin(db, attempt, user);
  const directories = await enabledLdapDirectories(db, box);
  const target = directoryForLogin(
    attempt.username,
    directories.map((directory) => directory.config),
  );
  if (target.kind === 'none' || directories.length === 0) return localLogin(db, attempt, user);
  const indexes = target.kind === 'directory' ? [target.index] : target.indexes;
  return directoryLogin(
    db,
    attempt,
    target.username,
    indexes.map((index) => directories[index]!),
  );
}

async function localLogin(db: Database, attempt: LoginAttempt, user: User | undefined): Promise<LoginResult> {
  const actor: Actor = { ...anonymousActor(attempt.ip), name: attempt.username.slice(0, 255) };
  const fail = async (reason: FailureReason, hash?: string | null): Promise<LoginResult> => {
    if (hash !== undefined) await verifyPassword(hash ?? (await timingDummyHash()), attempt.password);
    await loginFailed(db, actor, user, reason);
    return { ok: false };
  };

  if (!user) return fail('unknown_user', null);
  if (user.disabled) return fail('disabled', user.passwordHash);
  if (user.locked) return fail('locked', user.passwordHash);
  if (user.realm !== 'local' || !user.passwordHash) return fail('no_local_password', null);

  const failures = await reserveAttempt(db, user.id, attempt.maxAttempts, attempt.nowMs);
  if (failures === null) return fail('temporarily_locked_out', null);

  if (!(await verifyPassword(user.passwordHash, attempt.password))) {
    if (failures >= attempt.maxAttempts) await lockOut(db, user, actor, attempt.lockAfter, attempt.nowMs);
    return fail('bad_password');
  }

  if (!hasPermission(await permissionsOfUser(db, user.id), 'user')) {
    await resetFailures(db, user.id, {});
    return fail('no_login_permission');
  }

  const rehash = needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(attempt.password) } : {};
  const [updated] = await resetFailures(db, user.id, rehash);
  return updated ? { ok: true, user: updated } : { ok: false };
}

/**
 * A directory login: each directory in turn searches for the name (a directory that does not
 * know it, or does not answer, passes to the next); the first that finds exactly one entry
 * decides. The linked user's lockout slot is taken after the search and before the bind, so a
 * locked-out account's password is never tried; the user is found by (directory, immutable id).
 */
async function directoryLogin(
  db: Database,
  attempt: LoginAttempt,
  name: string,
  directories: LdapDirectory[],
): Promise<LoginResult> {
  const actor: Actor = { ...anonymousActor(attempt.ip), name: attempt.username.slice(0, 255) };
  const fail = async (reason: FailureReason, user?: User): Promise<LoginResult> => {
    // One argon2 verification, as every local failure costs (see attemptLogin for the timing floor).
    await verifyPassword(await timingDummyHash(), attempt.password);
    await loginFailed(db, actor, user, reason);
    return { ok: false };
  };
  // An empty password is an anonymous bind that AD and OpenLDAP (bind_anon_dn) accept: never sent.
  if (attempt.password.trim() === '') return fail('empty_password');
  let unavailable = false;
  for (const directory of directories) {
    let linked: { user: User; identity: UserIdentity } | null = null;
    let refusal: FailureReason | null = null;
    let failures = 0;
    const result = await authenticate(directory.config, name, attempt.password, async (immutableId) => {
      linked = await findUserByIdentity(db, directory.id, immutableId);
      if (!linked) return true;
      if (linked.user.disabled) refusal = 'disabled';
      else if (linked.user.locked) refusal = 'locked';
      else {
        const slot = await reserveAttempt(db, linked.user.id, attempt.maxAttempts, attempt.nowMs);
        if (slot === null) refusal = 'temporarily_locked_out';
        else failures = slot;
      }
      return refusal === null;
    });
    const found = linked as { user: User; identity: UserIdentity } | null;
    if (!result.ok) {
      if (result.kind === 'not_found') continue;
      if (result.kind === 'unavailable' || result.kind === 'tls') {
        unavailable = true;
        continue;
      }
      if (result.kind === 'ambiguous') return fail('directory_ambiguous');
      if (result.kind === 'refused_before_bind') return fail(refusal ?? 'temporarily_locked_out', found?.user);
      if (found && failures >= attempt.maxAttempts)
        await lockOut(db, found.user, actor, attempt.lockAfter, attempt.nowMs);
      return fail(result.kind === 'invalid_credentials' ? 'bad_password' : 'directory_unavailable', found?.user);
    }
    let user: User;
    if (found) {
      user = await refreshFromDirectory(db, directory, found.user, found.identity, result.user, attempt.nowMs);
    } else {
      if (!directory.config.createUsersAtFirstLogin) return fail('directory_user_not_linked');
      const created = await createFromDirectory(db, directory, result.user, name, attempt.nowMs);
      if (!created.ok)
        return fail(created.problem.kind === 'invalid' ? 'directory_username_unusable' : 'directory_unavailable');
      user = created.value;
    }
    if (!hasPermission(await permissionsOfUser(db, user.id), 'user')) {
      await resetFailures(db, user.id, {});
      return fail('no_login_permission', user);
    }
    const [updated] = await resetFailures(db, user.id, {});
    return updated ? { ok: true, user: updated } : { ok: false };
  }
  return fail(unavailable ? 'directory_unavailable' : 'unknown_user');
}

/**
 * The second step of a login with 2FA: a code counts toward the same lockout as passwords
 * (wrong and replayed codes alike).
 */
export async function attemptSecondFactor(
  db: Database,
  box: SecretBox,
  attempt: LockoutSettings & { user: User; code: string; ip: string },
): Promise<LoginResult> {
  const { user } = attempt;
  const actor: Actor = { ...anonymousActor(attempt.ip), name: user.username };
  const failures = await reserveAttempt(db, user.id, attempt.maxAttempts, attempt.nowMs);
  if (failures === null) {
    await loginFailed(db, actor, user, 'temporarily_locked_out');
    return { ok: false };
  }
  const result = await verifySecondFactor(db, box, actor, user, attempt.code, attempt.nowMs);
  if (!result.ok) {
    if (failures >= attempt.maxAttempts) await lockOut(db, user, actor, attempt.lockAfter, attempt.nowMs);
    await loginFailed(
      db,
      actor,
      user,
      result.reason === 'replayed_code' ? 'replayed_second_factor' : 'bad_second_factor',
    );
    return { ok: false };
  }
  const [updated] = await resetFailures(db, user.id, {});
  return updated ? { ok: true, user: updated } : { ok: false };
}

/** The login succeeded: Last Session, auto-add groups, and the audit entry. */
export async function completeLogin(
  db: Database,
  user: User,
  ip: string,
  nowMs: number,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ lastSession: new Date(nowMs) })
      .where(eq(users.id, user.id));
    await joinAutoAddGroups(tx, user);
    await recordAudit(
      tx,
      { ...anonymousActor(ip), type: 'user', id: user.id, name: user.username },
      { action: 'authn_login_success', target: userTarget(user), ...details },
    );
  });
}

/** Local users join the groups with auto_add_local_users at every login (docs/rules.md#settings-and-precedence). */
async function joinAutoAddGroups(db: Database, user: User): Promise<void> {
  if (user.realm !== 'local') return;
  const autoAdd = await autoAddGroups(db);
  if (autoAdd.length === 0) return;
  const added = await db
    .insert(userGroups)
    .values(autoAdd.map((group) => ({ userId: user.id, groupId: group.id })))
    .onConflictDoNothing()
    .returning({ groupId: userGroups.groupId });
  for (const { groupId } of added) {
    await recordAudit(db, SYSTEM_ACTOR, {
      action: 'group_member_added',
      target: { type: 'group', id: groupId, name: autoAdd.find((group) => group.id === groupId)?.name ?? '' },
      member: { id: user.id, name: user.username },
      reason: 'auto_add_local_users',
    });
  }
}

function resetFailures(db: Database, userId: string, extra: { passwordHash?: string }) {
  return db
    .update(users)
    .set({ failedLoginCount: 0, lockoutCount: 0, lockedUntil: null, ...extra })
    .where(eq(users.id, userId))
    .returning();
}

/** The failure that reached the limit: start a temporary lockout, or lock the account for good. */
async function lockOut(db: Database, user: User, actor: Actor, lockAfter: number, nowMs: number): Promise<void> {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(users)
      .set({ failedLoginCount: 0, lockoutCount: sql`${users.lockoutCount} + 1` })
      .where(eq(users.id, user.id))
      .returning({ lockoutCount: users.lockoutCount });
    const lockoutNumber = row?.lockoutCount ?? 1;
    const target = { type: 'user', id: user.id, name: user.username };
    // Locking the last enabled administrator would lock everyone out of Roster (and hand that
    // power to anyone who can guess their user name): they get temporary lockouts only.
    const lastAdmin =
      (await permissionsOfUser(tx, user.id)).has('global_admin') && (await countActiveGlobalAdmins(tx)) <= 1;
    if (lockoutIsPermanent(lockoutNumber, lockAfter) && !lastAdmin) {
      await tx
        .update(users)
        .set({ locked: true, lockoutCount: 0, version: sql`${users.version} + 1`, updatedAt: sql`now()` })
        .where(eq(users.id, user.id));
      await endUserSessions(tx, user.id);
      await recordAudit(tx, actor, {
        action: 'authn_login_lock',
        target,
        changes: { locked: { old: false, new: true } },
        reason: `${lockoutNumber - 1} temporary lockouts`,
      });
    } else {
      const seconds = temporaryLockoutSeconds(lockoutNumber);
      await tx
        .update(users)
        .set({ lockedUntil: new Date(nowMs + seconds * 1000) })
        .where(eq(users.id, user.id));
      await recordAudit(tx, actor, {
        action: 'authn_login_fail_max',
        target,
        seconds,
        lockout_number: lockoutNumber,
        ...(lockoutIsPermanent(lockoutNumber, lockAfter) ? { reason: 'last enabled administrator: not locked' } : {}),
      });
    }
  });
}
