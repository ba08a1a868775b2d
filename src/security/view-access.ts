import type { Actor } from './actor.js';
import { hasPermission } from './permissions.js';

// Who may view what (docs/rules.md#permissions-and-no-way-up): a group, and the owner of a file mapping. Pure rules. They live
// here, below the domain folders, because file-mappings/ (downloads) and launches/ (plans,
// previews, sessions) both ask them, and groups/ imports file-mappings/.

/** What the rules need of an Actor: what they hold and which groups they are in. */
export type PermissionHolder = Pick<Actor, 'permissions' | 'groupIds'>;

export interface GroupRef {
  id: string;
  isSystem: boolean;
}

export function canViewGroup(actor: PermissionHolder, group: GroupRef): boolean {
  const viewable =
    hasPermission(actor.permissions, 'groups_view') ||
    (hasPermission(actor.permissions, 'groups_view_ifmember') && actor.groupIds.has(group.id));
  return viewable && (!group.isSystem || hasPermission(actor.permissions, 'groups_view_system'));
}

/** Who asks: a user (userId set) or an API key (userId null: a key is nobody's own user). */
export interface Viewer extends PermissionHolder {
  userId: string | null;
}

/** The actor of a request as a viewer. */
export function viewerOf(actor: PermissionHolder & { type: string; id: string | null }): Viewer {
  return { permissions: actor.permissions, groupIds: actor.groupIds, userId: actor.type === 'user' ? actor.id : null };
}

/** What owns a file mapping: a workspace, a group (system or not) or a user. */
export interface OwnerRef {
  kind: 'workspace' | 'group' | 'user';
  id: string;
  /** Groups only: Administrators and All Users need groups_view_system as well. */
  isSystem?: boolean;
}

/**
 * May `viewer` see a mapping of `owner` — its content, name and path? The one rule for the
 * download routes and for every document that carries mappings (plans, previews, sessions).
 * A workspace's: images_view. A group's: whoever may view the group. A user's: users_view, or
 * that user themselves (their own session's plan shows their own files).
 */
export function mayViewOwner(viewer: Viewer, owner: OwnerRef): boolean {
  if (owner.kind === 'workspace') return hasPermission(viewer.permissions, 'images_view');
  if (owner.kind === 'group') return canViewGroup(viewer, { id: owner.id, isSystem: owner.isSystem === true });
  return hasPermission(viewer.permissions, 'users_view') || viewer.userId === owner.id;
}

/** What viewing `owner`'s mappings needs, for a refusal message that names the permission. */
export function viewOwnerNeeds(owner: OwnerRef): string {
  if (owner.kind === 'workspace') return 'images_view';
  if (owner.kind === 'group')
    return `groups_view (or groups_view_ifmember as a member)${owner.isSystem ? ' and groups_view_system' : ''}`;
  return 'users_view';
}
