import fs from 'node:fs';

// NIST SP 800-63B: length limits, no composition rules, and a blocklist of
// common passwords and context words (the user name).
export const PASSWORD_MAX_LENGTH = 256;

const commonPasswords: ReadonlySet<string> = new Set(
  fs
    .readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.toLowerCase()),
);

/** A new password that is the current one changes nothing (a forced reset would be a no-op). */
export const SAME_PASSWORD_MESSAGE = 'The new password must differ from the current one.';

export interface PasswordContext {
  username: string;
  minLength: number;
}

/** Returns why `password` is not acceptable, or null when it is. */
export function passwordProblem(password: string, { username, minLength }: PasswordContext): string | null {
  const length = [...password].length; // code points, as a person counts characters
  if (length < minLength) return `Password must be at least ${minLength} characters long.`;
  if (length > PASSWORD_MAX_LENGTH) return `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  if (password.includes('\u0000')) return 'Password must not contain a NUL character.';
  const lower = password.toLowerCase();
  if (commonPasswords.has(lower)) return 'This password is one of the most commonly used passwords; choose another.';
  const name = username.trim().toLowerCase();
  if (name.length >= 3 && lower.includes(name)) return 'Password must not contain the user name.';
  return null;
}

export const PASSWORDS_DIFFER_MESSAGE = 'The two passwords do not match.';

export type NewPasswordErrors = Partial<Record<'password' | 'password_confirm', string>>;

/**
 * Every problem with a new password and its confirmation, each by its field, all at once (a
 * short password that also does not match says both). `sameAsCurrent` is known to the caller.
 */
export function newPasswordErrors(
  password: string,
  confirmation: string,
  context: PasswordContext & { sameAsCurrent: boolean },
): NewPasswordErrors {
  const errors: NewPasswordErrors = {};
  const problem = passwordProblem(password, context) ?? (context.sameAsCurrent ? SAME_PASSWORD_MESSAGE : null);
  if (problem) errors.password = problem;
  if (password !== confirmation) errors.password_confirm = PASSWORDS_DIFFER_MESSAGE;
  return errors;
}
