// docs/rules.md#permissions-and-no-way-up: who may view a file mapping's owner, and a launch plan as one caller may see it.
// Pure functions, hit directly; the route walk (test/routes/derived-documents.test.ts) checks
// that every page and call that carries mappings follows them.
import { describe, expect, it } from 'vitest';
import { planForCaller, WITHHELD_SHADOW_REASON } from '../../src/launches/launch-plan.js';
import type { LaunchPlan } from '../../src/workspaces/recorded-launch-plan.js';
import { mayViewOwner, viewerOf, type OwnerRef, type Viewer } from '../../src/security/view-access.js';
import type { Permission } from '../../src/security/permissions.js';

const viewer = (permissions: string[], groupIds: string[] = [], userId: string | null = 'caller'): Viewer => ({
  permissions: new Set(permissions as Permission[]),
  groupIds: new Set(groupIds),
  userId,
});

const OWNERS: Record<string, OwnerRef> = {
  workspace: { kind: 'workspace', id: 'w' },
  group: { kind: 'group', id: 'eng', isSystem: false },
  'member group': { kind: 'group', id: 'mine', isSystem: false },
  Administrators: { kind: 'group', id: 'admins', isSystem: true },
  'own user': { kind: 'user', id: 'caller' },
  'another user': { kind: 'user', id: 'ada' },
};

describe('mayViewOwner', () => {
  it("follows each owner kind's own rule, for every permission set", () => {
    const cases: Array<[string, Viewer, string[]]> = [
      ['nothing', viewer(['user']), ['own user']],
      ['users_view', viewer(['users_view']), ['own user', 'another user']],
      ['images_view', viewer(['images_view']), ['workspace', 'own user']],
      ['groups_view', viewer(['groups_view']), ['group', 'member group', 'own user']],
      [
        'groups_view_ifmember as a member',
        viewer(['groups_view_ifmember'], ['mine', 'admins']),
        ['member group', 'own user'],
      ],
      [
        'groups_view + groups_view_system',
        viewer(['groups_view', 'groups_view_system']),
        ['group', 'member group', 'Administrators', 'own user'],
      ],
      ['groups_view_system alone', viewer(['groups_view_system']), ['own user']],
      [
        'ifmember + system as a member',
        viewer(['groups_view_ifmember', 'groups_view_system'], ['admins']),
        ['Administrators', 'own user'],
      ],
      ['global_admin', viewer(['global_admin']), Object.keys(OWNERS)],
      ["an API key (nobody's own user)", viewer(['images_view'], [], null), ['workspace']],
    ];
    for (const [label, who, sees] of cases) {
      const seen = Object.entries(OWNERS)
        .filter(([, owner]) => mayViewOwner(who, owner))
        .map(([name]) => name);
      expect(seen, label).toEqual(sees);
    }
  });

  it('takes the user id only from a user actor, never from an API key', () => {
    const base = { permissions: new Set<Permission>(), groupIds: new Set<string>() };
    expect(viewerOf({ ...base, type: 'user', id: 'u1' }).userId).toBe('u1');
    expect(viewerOf({ ...base, type: 'api_key', id: 'u1' }).userId).toBeNull();
    expect(mayViewOwner(viewerOf({ ...base, type: 'api_key', id: 'ada' }), OWNERS['another user']!)).toBe(false);
  });
});

const entry = (name: string, owned_by?: LaunchPlan['file_mappings'][number]['owned_by']) => ({
  name,
  destination_path: `/p/${name}`,
  mode: '0444',
  owner: 'root' as const,
  writable: false,
  executable: false,
  size: 1,
  sha256: 'x',
  source: `mapping '${name}'`,
  content_base64: Buffer.from(name).toString('base64'),
  ...(owned_by ? { owned_by } : {}),
});

function plan(): LaunchPlan {
  return {
    user: { id: 'ada', username: 'ada' },
    workspace: {
      id: 'w',
      friendly_name: 'Chrome',
      image: 'chrome',
      cores: 1,
      memory_mb: 1024,
      run_config_override: {},
    },
    settings: [],
    file_mappings: [
      entry('ws', { kind: 'workspace', id: 'w' }),
      entry('eng', { kind: 'group', id: 'eng', is_system: false }),
      entry('admins', { kind: 'group', id: 'admins', is_system: true }),
      entry('ada', { kind: 'user', id: 'ada' }),
      entry('old'), // recorded before plans named owners
    ],
    skipped_file_mappings: [
      {
        name: 'eng-late',
        destination_path: '/p/ws',
        source: "mapping 'eng-late'",
        reason: "shadowed by workspace mapping 'ws'",
        owned_by: { kind: 'group', id: 'eng', is_system: false },
        shadowed_by: { kind: 'workspace', id: 'w' },
      },
      {
        name: 'ada-late',
        destination_path: '/p/eng',
        source: "mapping 'ada-late'",
        reason: "shadowed by mapping 'eng'",
        owned_by: { kind: 'user', id: 'ada' },
        shadowed_by: { kind: 'group', id: 'eng', is_system: false },
      },
      {
        name: 'old-late',
        destination_path: '/p/old',
        source: "mapping 'old-late'",
        reason: "shadowed by mapping 'old'",
      },
    ],
  };
}

const names = (list: ReadonlyArray<{ name: string }>) => list.map((m) => m.name);

describe('planForCaller', () => {
  it('shows each mapping only to a caller who may view its owner, and counts the rest', () => {
    const shown = planForCaller(plan(), viewer(['users_view', 'groups_view']));
    expect(names(shown.file_mappings)).toEqual(['eng', 'ada']);
    expect(shown.withheld_file_mappings).toBe(3);
    expect(names(shown.skipped_file_mappings)).toEqual(['eng-late', 'ada-late']);
    expect(shown.withheld_skipped_file_mappings).toBe(1);
    // eng-late lost to a workspace mapping this caller may not view: the reason does not name it.
    expect(shown.skipped_file_mappings.map((m) => m.reason)).toEqual([
      WITHHELD_SHADOW_REASON,
      "shadowed by mapping 'eng'",
    ]);
  });

  it('shows the user their own mappings; entries without an owner only to global admins', () => {
    const own = planForCaller(plan(), viewer(['user'], [], 'ada'));
    expect(names(own.file_mappings)).toEqual(['ada']);
    expect(own.skipped_file_mappings).toEqual([
      expect.objectContaining({ name: 'ada-late', reason: WITHHELD_SHADOW_REASON }),
    ]);
    expect(
      names(
        planForCaller(plan(), viewer(['users_view', 'images_view', 'groups_view', 'groups_view_system'])).file_mappings,
      ),
    ).not.toContain('old');
    const admin = planForCaller(plan(), viewer(['global_admin']));
    expect(admin).toEqual({ ...plan(), withheld_file_mappings: 0, withheld_skipped_file_mappings: 0 });
  });

  it('leaves the recorded plan as it is', () => {
    const recorded = plan();
    planForCaller(recorded, viewer([]));
    expect(recorded).toEqual(plan());
  });
});
