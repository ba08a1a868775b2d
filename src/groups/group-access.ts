import { hasPermission } from '../security/permissions.js';
import type { GroupRef, PermissionHolder } from '../security/view-access.js';

// Who may see and change which group (docs/rules.md#permissions-and-no-way-up). Pure rules: routes and views ask these.
// Viewing lives in security/view-access.ts, beside the rule for mapping owners that uses it.
export { canViewGroup } from '../security/view-access.js';
export type { GroupRef } from '../security/view-access.js';

/** Change a group's fields, members, settings or permissions. */
export function canModifyGroup(actor: PermissionHolder, group: GroupRef): boolean {
  const modifiable =
    hasPermission(actor.permissions, 'groups_modify') ||
    (hasPermission(actor.permissions, 'groups_modify_ifmember') && actor.groupIds.has(group.id));
  return modifiable && (!group.isSystem || hasPermission(actor.permissions, 'groups_modify_system'));
}

export function canDeleteGroup(actor: PermissionHolder, group: GroupRef): boolean {
  return !group.isSystem && hasPermission(actor.permissions, 'groups_delete');
}

/** What changing `group` needs, for the refusal message (which names the missing permission). */
export function modifyGroupNeeds(group: GroupRef): string {
  return `groups_modify (or groups_modify_ifmember as a member)${group.isSystem ? ' and groups_modify_system' : ''}`;
}
