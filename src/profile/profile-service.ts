import { and, desc, eq, ne } from 'drizzle-orm';
import { recordAudit, type AuditActor } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import { sessions, userSettings } from '../db/schema.js';
import { groupsWithSettingsOfUser } from '../groups/groups-service.js';
import type { SettingValue } from '../settings/catalogue.js';
import { effectiveUserSettings, themeOf, type EffectiveUserSetting } from '../settings/user-settings.js';

export async function userSettingValues(db: Database, userId: string): Promise<Record<string, SettingValue>> {
  const rows = await db.select().from(userSettings).where(eq(userSettings.userId, userId));
  return Object.fromEntries(rows.map((row) => [row.key, row.value as SettingValue]));
}

export async function effectiveProfile(db: Database, userId: string): Promise<EffectiveUserSetting[]> {
  const [groups, values] = await Promise.all([groupsWithSettingsOfUser(db, userId), userSettingValues(db, userId)]);
  return effectiveUserSettings(groups, values);
}

export async function themeFor(db: Database, userId: string) {
  return themeOf(await effectiveProfile(db, userId));
}

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

export function sessionsOfUser(db: Database, userId: string) {
  return db
    .select({ sid: sessions.sid, createdAt: sessions.createdAt, lastSeenAt: sessions.lastSeenAt, ip: sessions.ip, userAgent: sessions.userAgent })
    .from(sessions)
    .where(eq(sessions.userId, userId))
    .orderBy(desc(sessions.lastSeenAt));
}

/** Ends one of the user's own sessions; false when it is not theirs (or already gone). */
export async function endOwnSession(db: Database, actor: AuditActor & { id: string }, sid: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const ended = await tx
      .delete(sessions)
      .where(and(eq(sessions.sid, sid), eq(sessions.userId, actor.id)))
      .returning({ ip: sessions.ip });
    if (ended.length === 0) return false;
    await recordAudit(tx, actor, { action: 'session_revoked', target: selfTarget(actor), session_ip: ended[0]!.ip });
    return true;
  });
}

export async function endOtherOwnSessions(db: Database, actor: AuditActor & { id: string }, keepSid: string): Promise<number> {
  return db.transaction(async (tx) => {
    const ended = await tx
      .delete(sessions)
      .where(and(eq(sessions.userId, actor.id), ne(sessions.sid, keepSid)))
      .returning({ sid: sessions.sid });
    if (ended.length > 0) await recordAudit(tx, actor, { action: 'session_revoked', target: selfTarget(actor), count: ended.length, scope: 'all other sessions' });
    return ended.length;
  });
}
