import { and, eq } from 'drizzle-orm';
import { recordAudit, type AuditActor } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import { userSettings } from '../db/schema.js';
import type { SettingValue } from '../settings/catalogue.js';

const selfTarget = (actor: AuditActor) => ({ type: 'user', id: actor.id, name: actor.name });

/** Sets (value) or clears (null: "Use group default") one of the user's own settings. */
export async function saveUserSetting(db: Database, actor: AuditActor & { id: string }, key: string, value: SettingValue | undefined) {
  await db.transaction(async (tx) => {
    const [before] = await tx.select().from(userSettings).where(and(eq(userSettings.userId, actor.id), eq(userSettings.key, key)));
    if (value === undefined) {
      if (!before) return;
      await tx.delete(userSettings).where(and(eq(userSettings.userId, actor.id), eq(userSettings.key, key)));
    } else {
      const json = JSON.stringify(value);
      if (before && JSON.stringify(before.value) === json) return;
      await tx
        .insert(userSettings)
        .values({ userId: actor.id, key, value })
        .onConflictDoUpdate({ target: [userSettings.userId, userSettings.key], set: { value } });
    }
    await recordAudit(tx, actor, {
      action: 'user_settings_changed',
      target: selfTarget(actor),
      changes: { [key]: { old: before ? before.value : '(group default)', new: value === undefined ? '(group default)' : value } },
    });
  });
}
