// What reaches a user is changed only by someone at least as strong (docs/rules.md#permissions-and-no-way-up). Every path that
// changes a user, their memberships, a group's content or a user's sessions asks one of these
// two, which apply the one rule of security/permissions.ts and audit its refusals.
import { recordRefusal } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import type { Group, User } from '../db/schema.js';
import {
  PERMISSIONS,
  strongerMemberBlocks,
  strongerMessage,
  strongerUserBlocks,
  type Permission,
} from '../security/permissions.js';
import { effectivePermissionsOf, effectivePermissionsOfMembers } from './groups-queries.js';

export interface StrongerRefusal {
  message: string;
  /** users_modify_admin, then what the stronger users hold that the actor lacks. */
  lacking: Permission[];
}

// Asking the rule about the strongest users there could be tells whether reading the real ones
// can matter (not for an actor holding users_modify_admin, nor for a system group).
const EVERYTHING: ReadonlySet<string> = new Set(PERMISSIONS);

async function refuse(
  db: Database,
  actor: Actor,
  target: { type: string; id: string; name: string },
  message: string,
  blocks: Permission[],
) {
  const lacking: Permission[] = ['users_modify_admin', ...blocks];
  await recordRefusal(db, actor, target, message, lacking);
  return { message, lacking };
}

/**
 * Refuses (audited, in `db`'s transaction) `action` on `user` when they hold a permission the
 * actor lacks and the actor lacks users_modify_admin; null when allowed. `realm`: the realm the
 * user has after the change (a local user also gets the auto-add groups' permissions).
 */
export async function refuseReachingUser(
  db: Database,
  actor: Actor,
  user: Pick<User, 'id' | 'username'> & { realm: string },
  action: string,
  realm: string = user.realm,
): Promise<StrongerRefusal | null> {
  if (strongerUserBlocks(actor.permissions, EVERYTHING).length === 0) return null;
  const blocks = strongerUserBlocks(actor.permissions, await effectivePermissionsOf(db, user.id, realm));
  if (blocks.length === 0) return null;
  return refuse(
    db,
    actor,
    { type: 'user', id: user.id, name: user.username },
    strongerMessage(action, 'they', blocks),
    blocks,
  );
}

/**
 * The same for `action` on a group's content, which reaches all its members (every local user,
 * for an auto-add group; `withLocalUsers` when the action turns auto-add on).
 */
export async function refuseReachingMembers(
  db: Database,
  actor: Actor,
  group: Pick<Group, 'id' | 'name' | 'isSystem'>,
  action: string,
  options: { withLocalUsers?: boolean } = {},
): Promise<StrongerRefusal | null> {
  if (strongerMemberBlocks(actor.permissions, group, EVERYTHING).length === 0) return null;
  const blocks = strongerMemberBlocks(
    actor.permissions,
    group,
    await effectivePermissionsOfMembers(db, group.id, options),
  );
  if (blocks.length === 0) return null;
  return refuse(
    db,
    actor,
    { type: 'group', id: group.id, name: group.name },
    strongerMessage(action, `members of ${group.name}`, blocks),
    blocks,
  );
}
