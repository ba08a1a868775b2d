import { sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import type { Realm } from '../db/schema.js';
import { executedRows } from '../db/sql-helpers.js';
import type { CurrentUser } from '../security/current-user.js';
import type { Permission } from '../security/permissions.js';
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
 * The select of the user whose id is `userId` (an SQL expression): who they are, their groups,
 * the permissions those add up to, and their effective theme (their own value, else the group
 * with the lowest priority number that sets one — the resolver's rule for this one setting).
 * The session read joins it, so that a logged-in page costs one statement before its own
 * queries; read on every request, so a change of groups, permissions or theme shows on the next.
 */
export function currentUserSelect(userId: SQL): SQL {
  // Written as SQL: the subqueries need table-qualified columns, which Drizzle's select leaves out.
  return sql`
    select u.id, u.username, u.realm, u.disabled, u.locked, u.force_password_reset as "forcePasswordReset",
      coalesce((select array_agg(ug.group_id::text) from user_groups ug where ug.user_id = u.id), '{}') as "groupIds",
      coalesce((select array_agg(distinct gp.permission) from user_groups ug
        join group_permissions gp on gp.group_id = ug.group_id where ug.user_id = u.id), '{}') as permissions,
      coalesce(
        (select us.value from user_settings us where us.user_id = u.id and us.key = ${THEME.userKey!}),
        (select gs.value from user_groups ug join groups g on g.id = ug.group_id
          join group_settings gs on gs.group_id = g.id and gs.key = ${THEME.key}
          where ug.user_id = u.id order by g.priority limit 1)) as theme
    from users u where u.id = ${userId}`;
}

/** The row of `currentUserSelect` as the request's user: null when they can no longer use Roster (gone, disabled, locked). */
export function toCurrentUser(row: unknown): CurrentUser | null {
  const found = row as CurrentUserRow | null | undefined;
  if (!found || found.disabled || found.locked) return null;
  const theme = Promise.resolve(themeFromValue(found.theme));
  return {
    id: found.id,
    username: found.username,
    realm: found.realm,
    forcePasswordReset: found.forcePasswordReset,
    permissions: new Set(found.permissions as Permission[]),
    groupIds: new Set(found.groupIds),
    theme: () => theme,
  };
}

/** The user on their own (after a login, or when the session read did not bring them). */
export async function loadCurrentUser(db: Database, userId: string): Promise<CurrentUser | null> {
  return toCurrentUser(executedRows<CurrentUserRow>(await db.execute(currentUserSelect(sql`${userId}`)))[0]);
}
