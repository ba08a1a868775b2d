import crypto from 'node:crypto';
import { and, eq, isNull, or, lt, sql } from 'drizzle-orm';
import { generateSecret, generateURI, verify } from 'otplib';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { recoveryCodes, users, type User } from '../db/schema.js';
import { groupsWithSettingsOfUser } from '../groups/groups-queries.js';
import { twoFactorPolicyOf, type TwoFactorPolicy } from '../settings/two-factor-policy.js';
import type { SecretBox } from '../security/secret-box.js';

// TOTP per RFC 6238 as every authenticator app does it: SHA-1, 6 digits, 30 s steps.
export const TOTP_PERIOD = 30;
export const RECOVERY_CODE_COUNT = 10;
const SECRET_BYTES = 20; // 160 bits, from a CSPRNG (otplib uses crypto.getRandomValues)
const ISSUER = 'Roster';

export type { TwoFactorPolicy };

export async function twoFactorPolicy(db: Database, userId: string): Promise<TwoFactorPolicy> {
  return twoFactorPolicyOf(await groupsWithSettingsOfUser(db, userId));
}

export async function twoFactorStatus(db: Database, user: User) {
  const [policy, [left]] = await Promise.all([
    twoFactorPolicy(db, user.id),
    db
      .select({ n: sql<number>`count(*)::int` })
      .from(recoveryCodes)
      .where(and(eq(recoveryCodes.userId, user.id), isNull(recoveryCodes.usedAt))),
  ]);
  return { enabled: user.twoFactorEnabled, ...policy, recoveryCodesLeft: left?.n ?? 0 };
}

const target = (user: Pick<User, 'id' | 'username'>) => ({ type: 'user', id: user.id, name: user.username });

/** A new secret, kept (encrypted) on the user until a code confirms it. */
export async function startEnrollment(db: Database, box: SecretBox, user: User): Promise<void> {
  const secret = generateSecret({ length: SECRET_BYTES });
  await db
    .update(users)
    .set({ twoFactorSecret: box.seal(secret), twoFactorEnabled: false, twoFactorLastStep: null })
    .where(eq(users.id, user.id));
}

/** The pending or active secret in base32, and the otpauth:// URI an authenticator app scans. */
export function enrollmentDetails(box: SecretBox, user: User): { secret: string; uri: string } | null {
  if (!user.twoFactorSecret) return null;
  const secret = box.open(user.twoFactorSecret);
  return {
    secret,
    uri: generateURI({
      issuer: ISSUER,
      label: user.username,
      secret,
      algorithm: 'sha1',
      digits: 6,
      period: TOTP_PERIOD,
    }),
  };
}

/** The time step `code` belongs to (current ±1 step), or null. */
export async function matchingStep(secret: string, code: string, nowMs: number): Promise<number | null> {
  if (!/^\d{6}$/.test(code)) return null;
  const epoch = Math.floor(nowMs / 1000);
  const result = await verify({ secret, token: code, epoch, epochTolerance: TOTP_PERIOD, period: TOTP_PERIOD });
  return result.valid ? Math.floor(epoch / TOTP_PERIOD) + result.delta : null;
}

/**
 * Accepts a step at most once: the stored last step only moves forward, in one atomic UPDATE,
 * so a code (or any older one) is refused when replayed, even by parallel requests.
 */
async function claimStep(db: Database, userId: string, step: number): Promise<boolean> {
  const claimed = await db
    .update(users)
    .set({ twoFactorLastStep: step })
    .where(and(eq(users.id, userId), or(isNull(users.twoFactorLastStep), lt(users.twoFactorLastStep, step))))
    .returning({ id: users.id });
  return claimed.length > 0;
}

function newRecoveryCode(): string {
  // 10 groups of base32 would be overkill; 3 × 4 characters from a 32-letter alphabet is 60 bits.
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const chars = [...crypto.randomBytes(12)].map((byte) => alphabet[byte % alphabet.length]);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4, 8).join('')}-${chars.slice(8).join('')}`;
}

export const hashRecoveryCode = (code: string) =>
  crypto.createHash('sha256').update(code.trim().toLowerCase()).digest('hex');

/** Confirms enrolment with a code; returns the one-time recovery codes (shown once), or null. */
export async function confirmEnrollment(
  db: Database,
  box: SecretBox,
  actor: Actor,
  user: User,
  code: string,
  nowMs: number,
): Promise<string[] | null> {
  const details = enrollmentDetails(box, user);
  if (!details || user.twoFactorEnabled) return null;
  const step = await matchingStep(details.secret, code.trim(), nowMs);
  if (step === null) return null;
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await db.transaction(async (tx) => {
    await tx.update(users).set({ twoFactorEnabled: true, twoFactorLastStep: step }).where(eq(users.id, user.id)); // the enrolment code counts as used
    await tx.delete(recoveryCodes).where(eq(recoveryCodes.userId, user.id));
    await tx.insert(recoveryCodes).values(codes.map((c) => ({ userId: user.id, codeHash: hashRecoveryCode(c) })));
    await recordAudit(tx, actor, {
      action: 'authn_2fa_enrolled',
      target: target(user),
      changes: { two_factor_enabled: { old: false, new: true } },
    });
  });
  return codes;
}

export type SecondFactorResult =
  { ok: true; via: 'totp' | 'recovery_code' } | { ok: false; reason: 'wrong_code' | 'replayed_code' };

/** Checks a login's second factor: a TOTP code (once per time step) or an unused recovery code. */
export async function verifySecondFactor(
  db: Database,
  box: SecretBox,
  actor: Actor,
  user: User,
  input: string,
  nowMs: number,
): Promise<SecondFactorResult> {
  const code = input.trim().replace(/\s+/g, '');
  if (/^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$/i.test(code)) {
    const used = await db
      .update(recoveryCodes)
      .set({ usedAt: new Date(nowMs) })
      .where(
        and(
          eq(recoveryCodes.userId, user.id),
          eq(recoveryCodes.codeHash, hashRecoveryCode(code)),
          isNull(recoveryCodes.usedAt),
        ),
      )
      .returning({ id: recoveryCodes.id });
    if (used.length === 0) return { ok: false, reason: 'wrong_code' };
    await recordAudit(db, actor, { action: 'authn_recovery_code_used', target: target(user) });
    return { ok: true, via: 'recovery_code' };
  }
  const details = enrollmentDetails(box, user);
  const step = details ? await matchingStep(details.secret, code, nowMs) : null;
  if (step === null) return { ok: false, reason: 'wrong_code' };
  if (!(await claimStep(db, user.id, step))) {
    await recordAudit(db, actor, {
      action: 'authn_2fa_replay',
      outcome: 'failure',
      target: target(user),
      reason: 'code already used',
    });
    return { ok: false, reason: 'replayed_code' };
  }
  return { ok: true, via: 'totp' };
}
