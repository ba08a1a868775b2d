// docs/rules.md#workspaces-and-the-launch-plan: the launch plan — what the container runtime would receive for (user, workspace).
// Pure: built from rows already read, the same for a launch, a preview and the JSON view.
import { describeMapping, effectiveFileMappings, type MappingCandidate } from '../file-mappings/effective-mappings.js';
import { formatSettingValue, settingByKey } from '../settings/catalogue.js';
import { describeSource, type EffectiveSetting } from '../settings/effective-settings.js';
import { hasPermission } from '../security/permissions.js';
import { mayViewOwner, type OwnerRef, type Viewer } from '../security/view-access.js';
import type { LaunchPlan, PlanOwner } from '../workspaces/recorded-launch-plan.js';

export interface PlanWorkspace {
  id: string;
  friendlyName: string;
  image: string;
  cores: number;
  memoryMb: number;
  runConfigOverride: unknown;
}

export interface PlanMapping extends MappingCandidate {
  description: string;
  writable: boolean;
  executable: boolean;
  size: number;
  sha256: string;
  content: Buffer;
  /** What owns the mapping: who may view it in a plan is decided by it. */
  ownedBy: OwnerRef;
}

/** A plan as shown to one caller: the mappings whose owner they may not view are counted, not shown. */
export type PlanForCaller = LaunchPlan & { withheld_file_mappings: number; withheld_skipped_file_mappings: number };

const planOwner = ({ kind, id, isSystem }: OwnerRef): PlanOwner =>
  kind === 'group' ? { kind, id, is_system: isSystem === true } : { kind, id };

/** rw-r--r-- / rwxr-xr-x for the session user's files; r--r--r-- / r-xr-xr-x for root's. */
export function modeOf(writable: boolean, executable: boolean): string {
  if (writable) return executable ? '0755' : '0644';
  return executable ? '0555' : '0444';
}

export function buildLaunchPlan(input: {
  user: { id: string; username: string };
  workspace: PlanWorkspace;
  settings: ReadonlyMap<string, EffectiveSetting>;
  workspaceNames: ReadonlyMap<string, { name: string; enabled: boolean }>;
  mappings: readonly PlanMapping[];
}): LaunchPlan {
  const { applied, skipped } = effectiveFileMappings(input.mappings);
  const { workspace } = input;
  return {
    user: input.user,
    workspace: {
      id: workspace.id,
      friendly_name: workspace.friendlyName,
      image: workspace.image,
      cores: workspace.cores,
      memory_mb: workspace.memoryMb,
      run_config_override: workspace.runConfigOverride,
    },
    settings: [...input.settings.values()].map(({ key, value, source }) => ({
      key,
      value,
      display: formatSettingValue(settingByKey(key)!, value, input.workspaceNames),
      source: describeSource(source),
    })),
    file_mappings: applied.map((mapping) => ({
      name: mapping.name,
      destination_path: mapping.destinationPath,
      mode: modeOf(mapping.writable, mapping.executable),
      owner: mapping.writable ? 'user' : 'root',
      writable: mapping.writable,
      executable: mapping.executable,
      size: mapping.size,
      sha256: mapping.sha256,
      source: describeMapping(mapping),
      content_base64: mapping.content.toString('base64'),
      owned_by: planOwner(mapping.ownedBy),
    })),
    skipped_file_mappings: skipped.map(({ mapping, shadowedBy, reason }) => ({
      name: mapping.name,
      destination_path: mapping.destinationPath,
      source: describeMapping(mapping),
      reason,
      owned_by: planOwner(mapping.ownedBy),
      shadowed_by: planOwner(shadowedBy.ownedBy),
    })),
  };
}

export const WITHHELD_SHADOW_REASON = 'shadowed by a mapping whose owner you may not view';

/**
 * The plan as `viewer` may see it (docs/rules.md#permissions-and-no-way-up: a document shows each part only to a caller who
 * may view that part on its own): a mapping — content, name, path, source — only when they may
 * view its owner; the others are counted. A skipped mapping they may see keeps its reason only
 * when they may also view the winner's owner, since the reason names it. The recorded plan (what
 * the runtime receives) is left as it is. An entry without an owner (an old plan) is a global
 * admin's to see.
 */
export function planForCaller(plan: LaunchPlan, viewer: Viewer): PlanForCaller {
  const mayView = (owner: PlanOwner | undefined) =>
    owner
      ? mayViewOwner(viewer, { kind: owner.kind, id: owner.id, isSystem: owner.is_system === true })
      : hasPermission(viewer.permissions, 'global_admin');
  const files = plan.file_mappings.filter((m) => mayView(m.owned_by));
  const skipped = plan.skipped_file_mappings
    .filter((m) => mayView(m.owned_by))
    .map((m) => (mayView(m.shadowed_by) ? m : { ...m, reason: WITHHELD_SHADOW_REASON }));
  return {
    ...plan,
    file_mappings: files,
    skipped_file_mappings: skipped,
    withheld_file_mappings: plan.file_mappings.length - files.length,
    withheld_skipped_file_mappings: plan.skipped_file_mappings.length - skipped.length,
  };
}
