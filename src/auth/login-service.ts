import { and, eq, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { recordAudit, SYSTEM_ACTOR, type AuditActor } from '../audit/audit-log.js';
import { countActiveGlobalAdmins, permissionsOfUser } from '../groups/groups-repository.js';
import { autoAddGroups } from '../groups/groups-service.js';
import type { Database } from '../db/client.js';
import { userGroups, users, type User } from '../db/schema.js';
import { hasPermission } from './permissions.js';
import { endUserSessions } from '../plugins/session-store.js';
import { findUserByUsername } from '../users/users-repository.js';
import { lockoutIsPermanent, temporaryLockoutSeconds } from './lockout.js';
import { hashPassword, needsRehash, timingDummyHash, verifyPassword } from './passwords.js';

export type LoginResult = { ok: true; user: User } | { ok: false };

/** Why a login failed: for the audit log only, never shown to the person logging in. */
type FailureReason =
  | 'unknown_user'
  | 'bad_password'
  | 'disabled'
  | 'locked'
  | 'temporarily_locked_out'
  | 'no_local_password'
  | 'no_login_permission';

interface LoginAttempt {
  username: string;
  password: string;
  ip: string;
  maxAttempts: number;
}

/**
 * Checks a user name and password (SPEC §6). Every failure looks the same to the caller and
 * costs one argon2 verification, so neither the answer nor its timing tells whether the
 * account exists or why it failed; the audit log records the real reason.
 */
export async function attemptLogin(db: Database, attempt: LoginAttempt): Promise<LoginResult> {
  const user = await findUserByUsername(db, attempt.username);
  const actor: AuditActor = { type: 'anonymous', id: null, name: attempt.username.slice(0, 255), ip: attempt.ip };
  const fail = async (reason: FailureReason, hash?: string | null): Promise<LoginResult> => {
    if (hash !== undefined) await verifyPassword(hash ?? (await timingDummyHash()), attempt.password);
    await recordAudit(db, actor, {
      action: 'authn_login_fail',
      outcome: 'failure',
      target: user ? { type: 'user', id: user.id, name: user.username } : undefined,
      reason,
    });
    return { ok: false };
  };

  if (!user) return fail('unknown_user', null);
  if (user.disabled) return fail('disabled', user.passwordHash);
  if (user.locked) return fail('locked', user.passwordHash);
  if (user.realm !== 'local' || !user.passwordHash) return fail('no_local_password', null);

  // Take an attempt slot before verifying: the increment is atomic, so parallel guesses cannot
  // all pass a "fewer than max failures" check that each of them read before the others wrote.
  const [slot] = await db
    .update(users)
    .set({ failedLoginCount: sql`${users.failedLoginCount} + 1` })
    .where(
      and(
        eq(users.id, user.id),
        eq(users.locked, false),
        or(isNull(users.lockedUntil), lt(users.lockedUntil, sql`now()`)),
        lt(users.failedLoginCount, attempt.maxAttempts),
      ),
    )
    .returning({ failedLoginCount: users.failedLoginCount });
  if (!slot) return fail('temporarily_locked_out', null);

  if (!(await verifyPassword(user.passwordHash, attempt.password))) {
    if (slot.failedLoginCount >= attempt.maxAttempts) await lockOut(db, user, actor);
    return fail('bad_password');
  }

  if (!hasPermission(await permissionsOfUser(db, user.id), 'user')) {
    await resetFailures(db, user.id, {});
    return fail('no_login_permission');
  }

  const rehash = needsRehash(user.passwordHash) ? { passwordHash: await hashPassword(attempt.password) } : {};
  const [loggedIn] = await db.transaction(async (tx) => {
    const updated = await resetFailures(tx, user.id, { lastSession: sql`now()`, ...rehash });
    await joinAutoAddGroups(tx, user);
    await recordAudit(tx, { ...actor, type: 'user', id: user.id, name: user.username }, {
      action: 'authn_login_success',
      target: { type: 'user', id: user.id, name: user.username },
      ...(rehash.passwordHash ? { password_rehashed: true } : {}),
    });
    return updated;
  });
  return loggedIn ? { ok: true, user: loggedIn } : { ok: false };
}

/** Local users join the groups with auto_add_local_users at every login (SPEC §2.1). */
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

function resetFailures(db: Database, userId: string, extra: { lastSession?: SQL; passwordHash?: string }) {
  return db
    .update(users)
    .set({ failedLoginCount: 0, lockoutCount: 0, lockedUntil: null, ...extra })
    .where(eq(users.id, userId))
    .returning();
}

/** The failure that reached the limit: start a temporary lockout, or lock the account for good. */
async function lockOut(db: Database, user: User, actor: AuditActor): Promise<void> {
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
    const lastAdmin = (await permissionsOfUser(tx, user.id)).has('global_admin') && (await countActiveGlobalAdmins(tx)) <= 1;
    if (lockoutIsPermanent(lockoutNumber) && !lastAdmin) {
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
        .set({ lockedUntil: sql`now() + make_interval(secs => ${seconds})` })
        .where(eq(users.id, user.id));
      await recordAudit(tx, actor, {
        action: 'authn_login_fail_max',
        target,
        seconds,
        lockout_number: lockoutNumber,
        ...(lockoutIsPermanent(lockoutNumber) ? { reason: 'last enabled administrator: not locked' } : {}),
      });
    }
  });
}
