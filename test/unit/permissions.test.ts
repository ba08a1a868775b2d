import { describe, expect, it } from 'vitest';
import {
  hasPermission,
  lackingMessage,
  PERMISSION_INFO,
  PERMISSION_SECTIONS,
  PERMISSIONS,
  permissionsLacking,
  strongerMemberBlocks,
  strongerMessage,
  strongerUserBlocks,
} from '../../src/security/permissions.js';

const held = (...permissions: string[]) => new Set(permissions);

describe('permissionsLacking (no way up)', () => {
  it('names what the actor lacks, in catalogue order', () => {
    expect(
      permissionsLacking(held('users_view', 'groups_modify'), ['audit_view', 'users_view', 'global_admin']),
    ).toEqual(['global_admin', 'audit_view']);
  });

  it('lets global_admin confer anything, and nothing else confer global_admin', () => {
    expect(permissionsLacking(held('global_admin'), PERMISSIONS)).toEqual([]);
    const everythingElse = PERMISSIONS.filter((p) => p !== 'global_admin');
    expect(permissionsLacking(held(...everythingElse), PERMISSIONS)).toEqual(['global_admin']);
  });

  it('for every permission: an actor holding all but it cannot confer it, holding it can', () => {
    for (const permission of PERMISSIONS) {
      const allBut = held(...PERMISSIONS.filter((p) => p !== permission && p !== 'global_admin'));
      expect(permissionsLacking(allBut, [permission]), permission).toEqual([permission]);
      expect(permissionsLacking(new Set([...allBut, permission]), [permission]), permission).toEqual([]);
    }
  });

  it('ignores values that are not permissions and conferring nothing', () => {
    expect(permissionsLacking(held(), ['not_a_permission'])).toEqual([]);
    expect(permissionsLacking(held(), [])).toEqual([]);
  });
});

describe('strongerUserBlocks', () => {
  it('blocks changing a user who holds more, unless the actor has users_modify_admin', () => {
    expect(strongerUserBlocks(held('users_modify', 'user'), held('user', 'audit_view'))).toEqual(['audit_view']);
    expect(strongerUserBlocks(held('users_modify', 'users_modify_admin'), held('global_admin'))).toEqual([]);
    expect(strongerUserBlocks(held('users_modify', 'audit_view'), held('user', 'audit_view'))).toEqual(['user']);
    expect(strongerUserBlocks(held('users_modify', 'user', 'audit_view'), held('user', 'audit_view'))).toEqual([]);
  });

  it('treats a global_admin target as holding everything', () => {
    expect(strongerUserBlocks(held('users_modify', 'user'), held('global_admin'))).toEqual(['global_admin']);
    expect(hasPermission(held('global_admin'), 'audit_view')).toBe(true);
  });
});

describe("strongerMemberBlocks (a group's content reaches its members)", () => {
  it('asks the stronger-user rule about what the members hold together', () => {
    const deputy = held('groups_modify', 'user');
    expect(strongerMemberBlocks(deputy, { isSystem: false }, held('user', 'global_admin'))).toEqual(['global_admin']);
    expect(strongerMemberBlocks(deputy, { isSystem: false }, held('user'))).toEqual([]);
    expect(
      strongerMemberBlocks(held('groups_modify', 'users_modify_admin'), { isSystem: false }, held('global_admin')),
    ).toEqual([]);
  });

  it('leaves system groups to groups_modify_system', () => {
    expect(strongerMemberBlocks(held('groups_modify'), { isSystem: true }, held('global_admin'))).toEqual([]);
  });

  it('says users_modify_admin is missing and what the stronger users hold', () => {
    expect(strongerMessage('Changing the settings of Ops', 'members of Ops', ['global_admin'])).toBe(
      'Changing the settings of Ops needs users_modify_admin: members of Ops hold global_admin, which you do not.',
    );
  });
});

describe('lackingMessage', () => {
  it('says what was tried and what is missing', () => {
    expect(lackingMessage('Adding members to Ops', ['global_admin', 'audit_view'])).toBe(
      'Adding members to Ops needs global_admin, audit_view, which you do not hold.',
    );
  });
});

describe('permission descriptions', () => {
  it('describe every permission, under a known section', () => {
    for (const permission of PERMISSIONS) {
      expect(PERMISSION_INFO[permission].description.length, permission).toBeGreaterThan(5);
      expect(PERMISSION_SECTIONS).toContain(PERMISSION_INFO[permission].section);
    }
  });
});
