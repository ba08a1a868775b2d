// Brute-force protection for local accounts. After `maxAttempts` consecutive failures the
// account is temporarily locked out, with waits doubling from 1 minute up to 15 minutes; after
// LOCK_AFTER_TEMPORARY_LOCKOUTS such lockouts (default 3) the next one sets the account's Locked
// flag instead, which only an admin clears. 0 keeps the lockouts temporary for ever: anyone who
// knows a user name can otherwise lock that account for good.
export const DEFAULT_LOCK_AFTER_TEMPORARY_LOCKOUTS = 3;
const FIRST_WAIT_SECONDS = 60;
const MAX_WAIT_SECONDS = 15 * 60;

/** Seconds of the `lockoutNumber`-th temporary lockout (1-based). */
export function temporaryLockoutSeconds(lockoutNumber: number): number {
  return Math.min(FIRST_WAIT_SECONDS * 2 ** Math.max(0, lockoutNumber - 1), MAX_WAIT_SECONDS);
}

/**
 * Whether reaching the failure limit for the `lockoutNumber`-th time locks the account for good,
 * after `lockAfter` temporary lockouts (0 = never).
 */
export function lockoutIsPermanent(
  lockoutNumber: number,
  lockAfter: number = DEFAULT_LOCK_AFTER_TEMPORARY_LOCKOUTS,
): boolean {
  return lockAfter > 0 && lockoutNumber > lockAfter;
}
