// Launching (docs/rules.md#workspaces-and-the-launch-plan): starting a workspace session with its plan.
import type { Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import type { Workspace } from '../db/schema.js';
import type { RefusalCheck } from '../security/permissions.js';
import { conflict, type Result } from '../security/result.js';
import type { UserEffectiveSettings } from '../users/user-settings-queries.js';
import { recordLaunch } from '../workspaces/workspace-sessions-commands.js';
import type { WorkspaceSessionSummary } from '../workspaces/workspace-sessions-queries.js';
import { launchPlanFor } from './launches-queries.js';

/**
 * Starts `workspace` for the user: records the session with its plan, within Max Sessions Per
 * User. `check`: asked in the recording's transaction (launching on a stronger user's behalf).
 */
export async function launch(
  db: Database,
  actor: Actor,
  user: { id: string; username: string },
  workspace: Workspace,
  now: Date,
  effective?: UserEffectiveSettings,
  check?: RefusalCheck,
): Promise<Result<WorkspaceSessionSummary>> {
  if (!workspace.enabled) return conflict(`${workspace.friendlyName} is disabled and cannot be launched.`);
  const { plan, settings } = await launchPlanFor(db, user, workspace, effective);
  const limit = Number(settings.settings.get('max_kasms_per_user')!.value);
  return recordLaunch(db, actor, user, plan, limit, now, check);
}
