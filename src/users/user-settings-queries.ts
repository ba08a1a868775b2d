// A user's own settings (docs/rules.md#profile-settings) as stored, and the one place that resolves a user's effective
// settings: the profile, the admin's user page and the launch plan all read them from here.
import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { userSettings } from '../db/schema.js';
import { groupsWithSettingsOfUser, type MemberGroup } from '../groups/groups-queries.js';
import type { SettingValue } from '../settings/catalogue.js';
import { resolveEffectiveSettings, type EffectiveSetting } from '../settings/effective-settings.js';
import { effectiveUserSettings, type EffectiveUserSetting } from '../settings/user-settings.js';
import { workspaceCatalogue, type WorkspaceCatalogue } from '../workspaces/workspaces-queries.js';

export async function userSettingValues(db: Database, userId: string): Promise<Record<string, SettingValue>> {
  const rows = await db.select().from(userSettings).where(eq(userSettings.userId, userId));
  return Object.fromEntries(rows.map((row) => [row.key, row.value as SettingValue]));
}

export interface UserEffectiveSettings {
  /** Every catalogue setting with its source: user value → groups by priority → default. */
  settings: Map<string, EffectiveSetting>;
  /** The profile's view of the same: each user setting, its value, source and whether the user set it. */
  profile: EffectiveUserSetting[];
  /** The user's groups by priority (with the settings each sets). */
  groups: MemberGroup[];
  /** The user's own stored values. */
  own: Record<string, SettingValue>;
  /** The workspaces, to name and offer Default Workspace Image values. */
  workspaces: WorkspaceCatalogue;
}

/** A user's effective settings: three queries, whatever the number of groups. */
export async function effectiveSettingsOfUser(db: Database, userId: string): Promise<UserEffectiveSettings> {
  const [groups, own, workspaces] = await Promise.all([
    groupsWithSettingsOfUser(db, userId),
    userSettingValues(db, userId),
    workspaceCatalogue(db),
  ]);
  const settings = resolveEffectiveSettings(groups, own, { usableImages: workspaces.usable });
  return { settings, profile: effectiveUserSettings(settings, own), groups, own, workspaces };
}

/** Every profile setting's effective value and its source, for one user. */
export async function effectiveProfile(db: Database, userId: string): Promise<EffectiveUserSetting[]> {
  return (await effectiveSettingsOfUser(db, userId)).profile;
}
