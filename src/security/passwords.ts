import argon2 from 'argon2';

// OWASP Password Storage Cheat Sheet, argon2id minimum: m = 19 MiB, t = 2, p = 1.
// argon2 hashes on libuv's thread pool, so the event loop stays free.
export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, ARGON2_OPTIONS);
}

export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false; // a malformed stored hash never authenticates
  }
}

/** True when `hash` was made with weaker parameters (or another variant) than ARGON2_OPTIONS. */
export function needsRehash(hash: string): boolean {
  try {
    if (!hash.startsWith('$argon2id$')) return true;
    return argon2.needsRehash(hash, ARGON2_OPTIONS);
  } catch {
    return true;
  }
}

let dummyHash: Promise<string> | undefined;
/**
 * A hash to verify against when there is no real one (unknown user, account that cannot log
 * in), so that every failed login costs the same time and reveals nothing about the account.
 */
export function timingDummyHash(): Promise<string> {
  dummyHash ??= hashPassword('roster-timing-equaliser-not-a-real-password');
  return dummyHash;
}
