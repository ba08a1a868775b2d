import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { SYSTEM_ACTOR } from '../security/actor.js';
import { passwordProblem } from '../security/password-policy.js';
import { ConfigError, type Config } from '../config.js';
import type { DatabaseHandle } from '../db/client.js';
import { users } from '../db/schema.js';
import { seedSystemGroups } from '../groups/groups-seed.js';
import { systemGroupId } from '../groups/groups-queries.js';
import { createUser } from '../users/users-commands.js';
import { validateUser } from '../users/user-validation.js';

export const FIRST_ADMIN_USERNAME = 'admin';

export interface FirstAdmin {
  username: string;
  /** Shown once on the console; null when it came from ROSTER_ADMIN_PASSWORD. */
  generatedPassword: string | null;
}

/** A random password that passes the policy: 24 characters from a CSPRNG. */
function randomPassword(): string {
  return crypto.randomBytes(18).toString('base64url');
}

/**
 * ROSTER_ADMIN_PASSWORD must pass the password rules: checked at start with the other settings,
 * so a bad one stops Roster with the same one-line message (ConfigError) as any bad setting.
 */
export function checkAdminPassword(config: Pick<Config, 'adminPassword' | 'passwordMinLength'>): void {
  if (config.adminPassword === undefined) return;
  const problem = passwordProblem(config.adminPassword, {
    username: FIRST_ADMIN_USERNAME,
    minLength: config.passwordMinLength,
  });
  if (problem) throw new ConfigError([`ROSTER_ADMIN_PASSWORD is not acceptable: ${problem}`]);
}

/**
 * Brings the database up to date and seeds it: migrations, the system groups and, when no
 * user exists yet, the first admin (in Administrators and All Users, who must choose a new
 * password at first login).
 */
export async function prepareDatabase(
  handle: DatabaseHandle,
  config: Pick<Config, 'adminPassword' | 'passwordMinLength' | 'adminsRequire2fa'>,
): Promise<FirstAdmin | null> {
  await handle.migrate();
  const { db } = handle;
  await seedSystemGroups(db, { adminsRequire2fa: config.adminsRequire2fa });
  const [existing] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
  if ((existing?.n ?? 0) > 0) return null;

  checkAdminPassword(config);
  const password = config.adminPassword ?? randomPassword();
  const validation = validateUser(
    { username: FIRST_ADMIN_USERNAME, realm: 'local', force_password_reset: true, password },
    { mode: 'create', passwordMinLength: config.passwordMinLength },
  );
  if (!validation.ok) throw new Error(`first admin is invalid: ${JSON.stringify(validation.errors)}`);
  const created = await createUser(db, SYSTEM_ACTOR, validation.user, password, [
    await systemGroupId(db, 'administrators'),
  ]);
  if (!created.ok) return null; // another instance created it at the same moment
  return { username: FIRST_ADMIN_USERNAME, generatedPassword: config.adminPassword ? null : password };
}
