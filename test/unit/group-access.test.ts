import { describe, expect, it } from 'vitest';
import { canDeleteGroup, canModifyGroup, canViewGroup } from '../../src/groups/group-access.js';
import type { Permission } from '../../src/security/permissions.js';

const actor = (permissions: string[], groupIds: string[] = []) => ({
  permissions: new Set(permissions as Permission[]),
  groupIds: new Set(groupIds),
});
const plain = { id: 'eng', isSystem: false };
const system = { id: 'admins', isSystem: true };

describe('group access rules', () => {
  it('lets global_admin do everything but delete system groups', () => {
    const admin = actor(['global_admin']);
    expect(canViewGroup(admin, system)).toBe(true);
    expect(canModifyGroup(admin, system)).toBe(true);
    expect(canDeleteGroup(admin, plain)).toBe(true);
    expect(canDeleteGroup(admin, system)).toBe(false);
  });

  it('needs the _system permissions for system groups', () => {
    expect(canViewGroup(actor(['groups_view']), plain)).toBe(true);
    expect(canViewGroup(actor(['groups_view']), system)).toBe(false);
    expect(canViewGroup(actor(['groups_view', 'groups_view_system']), system)).toBe(true);
    expect(canModifyGroup(actor(['groups_modify']), system)).toBe(false);
    expect(canModifyGroup(actor(['groups_modify', 'groups_modify_system']), system)).toBe(true);
  });

  it("limits the _ifmember permissions to the actor's own groups", () => {
    const member = actor(['groups_view_ifmember', 'groups_modify_ifmember'], ['eng']);
    expect(canViewGroup(member, plain)).toBe(true);
    expect(canModifyGroup(member, plain)).toBe(true);
    expect(canViewGroup(member, { id: 'sales', isSystem: false })).toBe(false);
    expect(canModifyGroup(member, { id: 'sales', isSystem: false })).toBe(false);
  });

  it('keeps view, modify and delete apart', () => {
    const viewer = actor(['groups_view']);
    expect(canModifyGroup(viewer, plain)).toBe(false);
    expect(canDeleteGroup(viewer, plain)).toBe(false);
    expect(canDeleteGroup(actor(['groups_delete']), plain)).toBe(true);
  });
});
