import { sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import type { Realm } from '../db/schema.js';
import type { CurrentUser } from '../security/current-user.js';
import { settingByKey } from '../settings/catalogue.js';
import { themeFromValue } from '../settings/user-settings.js';

const THEME = settingByKey('theme')!;

interface CurrentUserRow {
  id: string;
  username: string;
  realm: Realm;
  disabled: boolean;
  locked: boolean;
  forcePasswordReset: boolean;
  groupIds: string[];
  permissions: string[];
  theme: unknown;
}

/**
 * The session's user, for the auth plugin: null when they can no longer use Roster (deleted,
 * disabled, locked). One round trip brings who they are, their groups, the permissions those
 * add up to, and their effective theme (their own value, else the group with the lowest
 * priority number that sets one — the resolver's rule for this one setting), so that a page
 * costs the session read and this before its own queries. Read on every request: a change of
 * groups, permissions or theme shows on the next one.
 */
export async function loadCurrentUser(db: Database, userId: string): Promise<CurrentUser | null> {
  // Written as SQL: the subqueries need table-qualified columns, which Drizzle's select leaves out.
  const result = await db.execute(sql`
    select u.id, u.username, u.realm, u.disabled, u.locked, u.force_password_reset as "forcePasswordReset",
      coalesce((select array_agg(ug.group_id::text) from user_groups ug where ug.user_id = u.id), '{}') as "groupIds",
      coalesce((select array_agg(distinct gp.permission) from user_groups ug
        join group_permissions gp on gp.group_id = ug.group_id where ug.user_id = u.id), '{}') as permissions,
      coalesce(
        (select us.value from user_settings us where us.user_id = u.id and us.key = ${THEME.userKey!}),
        (select gs.value from user_groups ug join groups g on g.id = ug.group_id
          join group_settings gs on gs.group_id = g.id and gs.key = ${THEME.key}
          where ug.user_id = u.id order by g.priority limit 1)) as theme
    from users u where u.id = ${userId}`);
  const row = (result as unknown as { rows?: CurrentUserRow[] }).rows?.[0] ?? (result as unknown as CurrentUserRow[])[0];
  if (!row || row.disabled || row.locked) return null;
  const theme = Promise.resolve(themeFromValue(row.theme));
  return {
    id: row.id,
    username: row.username,
    realm: row.realm,
    forcePasswordReset: row.forcePasswordReset,
    permissions: new Set(row.permissions),
    groupIds: new Set(row.groupIds),
    theme: () => theme,
  };
}
