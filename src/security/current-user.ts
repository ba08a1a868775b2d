import type { Realm } from '../db/schema.js';
import type { Permission } from './permissions.js';

export type Theme = 'auto' | 'light' | 'dark';

/**
 * The logged-in user of a request, loaded once per request (so disabling a user or changing
 * their groups takes effect at once): who they are, what they hold, and their theme.
 */
export interface CurrentUser {
  id: string;
  username: string;
  realm: Realm;
  forcePasswordReset: boolean;
  permissions: ReadonlySet<Permission>;
  /** The groups the user belongs to (for the *_ifmember permissions). */
  groupIds: ReadonlySet<string>;
  /** The effective theme (loaded with the user). */
  theme(): Promise<Theme>;
}
