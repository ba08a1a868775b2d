import type { Database } from '../db/client.js';
import { accessOfUser } from '../groups/groups-repository.js';
import type { CurrentUser, Theme } from '../security/current-user.js';
import { themeOf } from '../settings/user-settings.js';
import { effectiveProfile } from '../users/user-settings-repository.js';
import { findUserById } from '../users/users-repository.js';

/**
 * The session's user, for the auth plugin: null when they can no longer use Roster (deleted,
 * disabled, locked). Their theme is read only when a full page asks for it, once per request.
 */
export async function loadCurrentUser(db: Database, userId: string): Promise<CurrentUser | null> {
  const user = await findUserById(db, userId);
  if (!user || user.disabled || user.locked) return null;
  const access = await accessOfUser(db, user.id);
  let theme: Promise<Theme> | undefined;
  return {
    id: user.id,
    username: user.username,
    realm: user.realm,
    forcePasswordReset: user.forcePasswordReset,
    ...access,
    theme: () => (theme ??= effectiveProfile(db, user.id).then(themeOf)),
  };
}
