// Changes to a user's own settings (docs/rules.md#profile-settings): by the user on their profile,
// or by an admin for them; one transaction and one audit event per save.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { userSettings } from '../db/schema.js';
import type { SettingValue } from '../settings/catalogue.js';

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
