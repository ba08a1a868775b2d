// Joining a group that grants global_admin makes an administrator: the group page and the user
// page both ask first (docs/rules.md#permissions-and-no-way-up), with this one question.
import type { Database } from '../db/client.js';
import type { Group } from '../db/schema.js';
import type { Actor } from '../security/actor.js';
import { confirmAddToAdminGroup, joiningNeedsConfirm } from '../security/permissions.js';
import { permissionsOfGroup } from './groups-queries.js';

/** What adding `username` to `group` asks before it is done, or null when it needs no confirm. */
export async function joiningQuestion(
  db: Database,
  actor: Pick<Actor, 'permissions'>,
  group: Pick<Group, 'id' | 'name'>,
  username: string,
  groupPermissions?: readonly string[],
) {
  const permissions = groupPermissions ?? (await permissionsOfGroup(db, group.id));
  return joiningNeedsConfirm(actor.permissions, permissions) ? confirmAddToAdminGroup(username, group.name) : null;
}
