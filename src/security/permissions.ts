import type { Database } from '../db/client.js';

// docs/rules.md#permissions-and-no-way-up. Permissions are granted to groups and added together across a user's groups;
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
  'devapi_modify',
  'devapi_delete',
  'auth_view',
  'auth_modify',
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
 * No way up (docs/rules.md#permissions-and-no-way-up): the permissions among `conferred` that an actor holding `held` lacks.
 * Every path that confers permissions asks this one rule — granting to a group, adding a
 * member, turning on auto_add_local_users, duplicating a group, creating a local user — and
 * refuses when the answer is not empty. Sorted in catalogue order, so messages are stable.
 */
export function permissionsLacking(held: ReadonlySet<string>, conferred: Iterable<string>): Permission[] {
  const wanted = new Set(conferred);
  return PERMISSIONS.filter((permission) => wanted.has(permission) && !hasPermission(held, permission));
}

/**
 * What reaches a user is changed only by someone at least as strong (docs/rules.md#permissions-and-no-way-up): their account
 * (password, realm, 2FA, lock, disable state, deletion), the groups they are in, those groups'
 * settings, file mappings and priority, and their sessions. `reached`: what the users a change
 * reaches hold (one user's effective permissions, or the union over a group's members). Without
 * users_modify_admin (Kasm's rule for global_admin holders, generalised), returns the permissions
 * among them the actor lacks; [] when allowed. Setting such a user's password, or a group's
 * file mapping at their ~/.ssh/authorized_keys, would hand the actor what they hold.
 */
export function strongerUserBlocks(actor: ReadonlySet<string>, reached: ReadonlySet<string>): Permission[] {
  if (hasPermission(actor, 'users_modify_admin')) return [];
  return permissionsLacking(actor, reached);
}

/**
 * Joining a group that grants global_admin makes the member an administrator of everything:
 * one click in a form should not do that, so the pages ask to confirm first. Only an actor who
 * may confer it is asked: anyone else is refused by the no-way-up rule anyway.
 */
export function joiningNeedsConfirm(actor: ReadonlySet<string>, groupPermissions: Iterable<string>): boolean {
  return actor.has('global_admin') && new Set(groupPermissions).has('global_admin');
}

/**
 * The same rule for a change to a group's content (settings, file mappings, priority, deletion):
 * it reaches every member. System groups keep groups_modify_system as their bar instead (All
 * Users holds everyone; changing Administrators' members already needs global_admin).
 */
export function strongerMemberBlocks(
  actor: ReadonlySet<string>,
  group: { isSystem: boolean },
  members: ReadonlySet<string>,
): Permission[] {
  return group.isSystem ? [] : strongerUserBlocks(actor, members);
}

/** The sentence of such a refusal: `holders` is who holds the permissions ("they", "its members"). */
export function strongerMessage(action: string, holders: string, blocks: readonly string[]): string {
  return `${action} needs users_modify_admin: ${holders} hold ${blocks.join(', ')}, which you do not.`;
}

/**
 * A rule a command asks inside its own transaction, before changing anything, when the rule
 * lives in a folder the command's cannot import (sessions, launches, file mappings ask groups/):
 * it records its refusal in that transaction and answers the message, or null to go on.
 */
export type RefusalCheck = (tx: Database) => Promise<{ message: string } | null>;

/** What the confirm step before adding `username` to such a group asks and says. */
export function confirmAddToAdminGroup(username: string, groupName: string) {
  return {
    question: `Make ${username} an administrator?`,
    consequences: `Members of ${groupName} hold global_admin: they can do everything in Roster, change every other user and administrator, and read the audit log.`,
    label: `Add ${username} to ${groupName}`,
  };
}

/** The sentence a refusal shows and the audit log records: it names what is missing. */
export function lackingMessage(action: string, lacking: readonly string[]): string {
  return `${action} needs ${lacking.join(', ')}, which you do not hold.`;
}

/** The permission panels' sections, in the order they are shown. */
export const PERMISSION_SECTIONS = [
  'General',
  'Users',
  'Groups',
  'Workspaces',
  'API',
  'Authentication',
  'Audit',
] as const;

/** What each permission allows, in one line, and the section it is listed under. */
export const PERMISSION_INFO: Record<
  Permission,
  { section: (typeof PERMISSION_SECTIONS)[number]; description: string }
> = {
  user: { section: 'General', description: 'Log in and use the profile.' },
  global_admin: { section: 'General', description: 'Everything, including every permission below.' },
  users_view: { section: 'Users', description: 'See the users table and user pages.' },
  users_create: { section: 'Users', description: 'Add users.' },
  users_modify: {
    section: 'Users',
    description: 'Edit users, reset their 2FA, set their default workspace and file mappings.',
  },
  users_delete: { section: 'Users', description: 'Delete users.' },
  users_modify_admin: {
    section: 'Users',
    description: 'Change users who hold permissions the actor lacks, administrators included.',
  },
  users_auth_session: {
    section: 'Users',
    description:
      'Log users out and end (or launch) their workspace sessions; for users holding permissions the actor lacks, also users_modify_admin.',
  },
  groups_view: { section: 'Groups', description: 'See every group.' },
  groups_create: { section: 'Groups', description: 'Create and duplicate groups.' },
  groups_modify: {
    section: 'Groups',
    description:
      'Change every group: fields, members, settings, file mappings, permissions. Adding or removing a stronger user, or changing a group with stronger members, also needs users_modify_admin.',
  },
  groups_delete: { section: 'Groups', description: 'Delete groups.' },
  groups_view_ifmember: { section: 'Groups', description: 'See the groups one is a member of.' },
  groups_modify_ifmember: { section: 'Groups', description: 'Change the groups one is a member of.' },
  groups_view_system: { section: 'Groups', description: 'Also see the system groups (Administrators, All Users).' },
  groups_modify_system: { section: 'Groups', description: 'Also change the system groups and their members.' },
  images_view: { section: 'Workspaces', description: 'See workspaces and their file mappings.' },
  images_create: { section: 'Workspaces', description: 'Add workspaces.' },
  images_modify: {
    section: 'Workspaces',
    description:
      'Change workspaces and their file mappings. Admin-grade: these reach everyone who launches the workspace, administrators included.',
  },
  images_delete: { section: 'Workspaces', description: 'Delete workspaces.' },
  devapi_view: { section: 'API', description: 'See Developer API keys.' },
  devapi_create: { section: 'API', description: 'Create Developer API keys.' },
  devapi_modify: {
    section: 'API',
    description:
      'Change Developer API keys: enable, disable, expiry, their permissions; only keys holding nothing the actor lacks.',
  },
  devapi_delete: { section: 'API', description: 'Delete Developer API keys.' },
  auth_view: {
    section: 'Authentication',
    description: 'See the identity providers (LDAP directories) and their settings.',
  },
  auth_modify: {
    section: 'Authentication',
    description:
      'Add, change, enable, disable and delete identity providers. Admin-grade: a directory decides who logs in and as whom.',
  },
  audit_view: { section: 'Audit', description: 'Read the audit log.' },
};

/** The permissions panel of a group or an API key: by section, each granted or not, and whether the actor may change it. */
export function permissionPanel(granted: readonly string[], actor: ReadonlySet<string>) {
  return PERMISSION_SECTIONS.map((section) => ({
    section,
    permissions: PERMISSIONS.filter((p) => PERMISSION_INFO[p].section === section).map((p) => ({
      key: p,
      description: PERMISSION_INFO[p].description,
      granted: granted.includes(p),
      held: hasPermission(actor, p),
    })),
  }));
}

/**
 * What a submitted permissions panel asks for. Checkboxes of permissions the actor does not
 * hold are shown disabled (so never submitted): those keep their current state; everything
 * else submitted goes to the no-way-up check.
 */
export function requestedPermissions(
  submitted: readonly string[],
  before: readonly string[],
  actor: ReadonlySet<string>,
): string[] {
  return [...submitted, ...before.filter((p) => isPermission(p) && !hasPermission(actor, p) && !submitted.includes(p))];
}

/** What replacing `before` with `wanted` changes (for a group or an API key), and any names outside the catalogue. */
export function permissionChange(before: readonly string[], wanted: readonly string[]) {
  return {
    unknown: wanted.filter((permission) => !isPermission(permission)),
    added: wanted.filter((p) => !before.includes(p)),
    removed: before.filter((p) => !wanted.includes(p)),
  };
}
