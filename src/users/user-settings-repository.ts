// A user's own settings (SPEC §3) as stored, and their effective values with sources.
import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { userSettings } from '../db/schema.js';
import { groupsWithSettingsOfUser } from '../groups/groups-service.js';
import type { SettingValue } from '../settings/catalogue.js';
import { effectiveUserSettings, type EffectiveUserSetting } from '../settings/user-settings.js';

export async function userSettingValues(db: Database, userId: string): Promise<Record<string, SettingValue>> {
  const rows = await db.select().from(userSettings).where(eq(userSettings.userId, userId));
  return Object.fromEntries(rows.map((row) => [row.key, row.value as SettingValue]));
}

/** Every profile setting's effective value and its source, for one user. */
export async function effectiveProfile(db: Database, userId: string): Promise<EffectiveUserSetting[]> {
  const [groups, values] = await Promise.all([groupsWithSettingsOfUser(db, userId), userSettingValues(db, userId)]);
  return effectiveUserSettings(groups, values);
}
