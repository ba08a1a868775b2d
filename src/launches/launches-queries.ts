// Launching, the reads (docs/rules.md#workspaces-and-the-launch-plan): which workspace /go starts and the plan for (user, workspace).
import type { Database } from '../db/client.js';
import type { Workspace } from '../db/schema.js';
import { mappingsForLaunch } from '../file-mappings/file-mappings-queries.js';
import { effectiveSettingsOfUser, type UserEffectiveSettings } from '../users/user-settings-queries.js';
import { findWorkspace } from '../workspaces/workspaces-queries.js';
import { buildLaunchPlan } from './launch-plan.js';

/** The default workspace, or why there is none (`disabled`: the name of the default that is disabled). */
export type DefaultWorkspace = { ok: true; workspace: Workspace } | { ok: false; disabled: string | null };

/** Why a user has no default workspace, for them ("you") or for an admin (their name). */
export function noDefaultMessage(found: Extract<DefaultWorkspace, { ok: false }>, who: string | null = null): string {
  const whose = who === null ? 'Your' : `${who}'s`;
  if (found.disabled) return `${whose} default workspace, ${found.disabled}, is disabled, and no other default is set.`;
  return who === null
    ? 'No default workspace is set for you, in your profile or by your groups.'
    : `No default workspace is set for ${who}, by them or by their groups.`;
}

/**
 * The workspace /go and Launch Now start: the effective Default Workspace Image (the user's
 * value, else their groups' by priority). One that is disabled or gone is passed over; when
 * nothing is left the message says why.
 */
export async function defaultWorkspaceOf(
  db: Database,
  userId: string,
  effective?: UserEffectiveSettings,
): Promise<DefaultWorkspace> {
  const settings = effective ?? (await effectiveSettingsOfUser(db, userId));
  const id = settings.settings.get('default_image')!.value;
  const workspace = typeof id === 'string' ? await findWorkspace(db, id) : undefined;
  if (workspace?.enabled) return { ok: true, workspace };
  const chosen = [settings.own.default_image, ...settings.groups.map((group) => group.settings.default_image)];
  const unusable = chosen.find(
    (value): value is string => typeof value === 'string' && !settings.workspaces.usable.has(value),
  );
  const named = unusable ? settings.workspaces.names.get(unusable) : undefined;
  return { ok: false, disabled: named?.name ?? null };
}

/** Whether a user may end their own workspace sessions (Allow Delete, from their groups). */
export const mayEndOwnSessions = (effective: UserEffectiveSettings) =>
  effective.settings.get('allow_kasm_delete')!.value === true;

/** The plan for (user, workspace): four queries, whatever the number of groups or mappings. */
export async function launchPlanFor(
  db: Database,
  user: { id: string; username: string },
  workspace: Workspace,
  effective?: UserEffectiveSettings,
) {
  const [settings, mappings] = await Promise.all([
    effective ?? effectiveSettingsOfUser(db, user.id),
    mappingsForLaunch(db, user.id, workspace),
  ]);
  const plan = buildLaunchPlan({
    user: { id: user.id, username: user.username },
    workspace,
    settings: settings.settings,
    workspaceNames: settings.workspaces.names,
    mappings,
  });
  return { plan, settings };
}
