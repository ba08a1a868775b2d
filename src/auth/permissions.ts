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
