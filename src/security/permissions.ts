// SPEC §2.2. Permissions are granted to groups and added together across a user's groups;
// `global_admin` implies every other one.
export const PERMISSIONS = [
  'user',
  'global_admin',
  'users_view',
  'users_create',
  'users_modify',
  'users_delete',
  'users_modify_admin',
  'users_auth_session',
  'groups_view',
  'groups_create',
  'groups_modify',
  'groups_delete',
  'groups_view_ifmember',
  'groups_modify_ifmember',
  'groups_view_system',
  'groups_modify_system',
  'images_view',
  'images_create',
  'images_modify',
  'images_delete',
  'devapi_view',
  'devapi_create',
  'devapi_delete',
  'audit_view',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

export function hasPermission(held: ReadonlySet<string>, needed: Permission): boolean {
  return held.has('global_admin') || held.has(needed);
}

/**
 * No way up (SPEC §2.2): the permissions among `conferred` that an actor holding `held` lacks.
 * Every path that confers permissions asks this one rule — granting to a group, adding a
 * member, turning on auto_add_local_users, duplicating a group, creating a local user — and
 * refuses when the answer is not empty. Sorted in catalogue order, so messages are stable.
 */
export function permissionsLacking(held: ReadonlySet<string>, conferred: Iterable<string>): Permission[] {
  const wanted = new Set(conferred);
  return PERMISSIONS.filter((permission) => wanted.has(permission) && !hasPermission(held, permission));
}

/**
 * Changing or deleting a user who holds a permission the actor lacks (a stronger user) needs
 * users_modify_admin: Kasm's rule for global_admin holders, generalised. Without it, setting
 * such a user's password (or realm, 2FA, lock, disable state) would hand the actor their
 * permissions. Returns the permissions that make the target stronger, or [] when allowed.
 */
export function strongerUserBlocks(actor: ReadonlySet<string>, target: ReadonlySet<string>): Permission[] {
  if (hasPermission(actor, 'users_modify_admin')) return [];
  return permissionsLacking(actor, target);
}

/** The sentence a refusal shows and the audit log records: it names what is missing. */
export function lackingMessage(action: string, lacking: readonly string[]): string {
  return `${action} needs ${lacking.join(', ')}, which you do not hold.`;
}
