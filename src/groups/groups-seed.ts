// The two system groups every installation has, created at first start (docs/rules.md#groups).
import type { Database } from '../db/client.js';
import { groupPermissions, groups, groupSettings } from '../db/schema.js';

export const SYSTEM_GROUPS = {
  administrators: {
    name: 'Administrators',
    priority: 1,
    permissions: ['global_admin'],
    description: 'Full control of Roster.',
  },
  all_users: { name: 'All Users', priority: 1000, permissions: ['user'], description: 'Every user is a member.' },
} as const;

export type SystemGroupKey = keyof typeof SYSTEM_GROUPS;

/**
 * Creates Administrators and All Users when missing (first start); safe to run every start.
 * Administrators get require_2fa only when configured (docs/rules.md#groups).
 */
export async function seedSystemGroups(db: Database, options: { adminsRequire2fa?: boolean } = {}): Promise<void> {
  await db.transaction(async (tx) => {
    for (const [systemKey, group] of Object.entries(SYSTEM_GROUPS)) {
      const inserted = await tx
        .insert(groups)
        .values({
          name: group.name,
          description: group.description,
          priority: group.priority,
          isSystem: true,
          systemKey,
        })
        .onConflictDoNothing()
        .returning({ id: groups.id });
      const id = inserted[0]?.id;
      if (id) {
        await tx.insert(groupPermissions).values(group.permissions.map((permission) => ({ groupId: id, permission })));
        if (systemKey === 'administrators' && options.adminsRequire2fa) {
          await tx.insert(groupSettings).values({ groupId: id, key: 'require_2fa', value: true });
        }
      }
    }
  });
}
