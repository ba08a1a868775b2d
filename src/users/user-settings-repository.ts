// A user's own settings (docs/rules.md#profile-settings) as stored, and the one place that resolves a user's effective
// settings: the profile, the admin's user page and the launch plan all read them from here.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { userSettings } from '../db/schema.js';
import { groupsWithSettingsOfUser, type MemberGroup } from '../groups/groups-service.js';
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

/**
 * Sets (a value, None included) or clears (undefined: "Use group default") one of a user's own
 * settings: by the user on their profile, or by an admin on the user's page.
 */
export async function saveUserSetting(
  db: Database,
  actor: Actor,
  user: { id: string; username: string },
  key: string,
  value: SettingValue | undefined,
) {
  await saveUserSettings(db, actor, user, new Map([[key, value]]));
}

/**
 * Sets or clears several of a user's own settings at once (the profile's one form): one
 * transaction, and one audit event listing every key that really changed (none: no event).
 */
export async function saveUserSettings(
  db: Database,
  actor: Actor,
  user: { id: string; username: string },
  values: ReadonlyMap<string, SettingValue | undefined>,
) {
  if (values.size === 0) return;
  await db.transaction(async (tx) => {
    const stored = await tx
      .select()
      .from(userSettings)
      .where(and(eq(userSettings.userId, user.id), inArray(userSettings.key, [...values.keys()])));
    const beforeOf = new Map(stored.map((row) => [row.key, row]));
    const changes: Record<string, { old: unknown; new: unknown }> = {};
    for (const [key, value] of values) {
      const mine = and(eq(userSettings.userId, user.id), eq(userSettings.key, key));
      const before = beforeOf.get(key);
      if (value === undefined) {
        if (!before) continue;
        await tx.delete(userSettings).where(mine);
      } else {
        const json = JSON.stringify(value);
        if (before && JSON.stringify(before.value) === json) continue;
        // Stored as JSON text: None (null) is a JSON null of its own, not a missing SQL value.
        const jsonb = sql`${json}::jsonb`;
        await tx
          .insert(userSettings)
          .values({ userId: user.id, key, value: jsonb })
          .onConflictDoUpdate({ target: [userSettings.userId, userSettings.key], set: { value: jsonb } });
      }
      changes[key] = {
        old: before ? before.value : '(group default)',
        new: value === undefined ? '(group default)' : value,
      };
    }
    if (Object.keys(changes).length === 0) return;
    await recordAudit(tx, actor, {
      action: 'user_settings_changed',
      target: { type: 'user', id: user.id, name: user.username },
      changes,
    });
  });
}
