// SPEC §4: the launch plan — what the container runtime would receive for (user, workspace).
// Pure: built from rows already read, the same for a launch, a preview and the JSON view.
import { describeMapping, effectiveFileMappings, type MappingCandidate } from '../file-mappings/effective-mappings.js';
import { formatSettingValue, settingByKey, type SettingValue } from '../settings/catalogue.js';
import { describeSource, type EffectiveSetting } from '../settings/effective-settings.js';

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
}

/** The plan as recorded and as served to a runtime (JSON; file content in base64). */
export interface LaunchPlan {
  user: { id: string; username: string };
  workspace: { id: string; friendly_name: string; image: string; cores: number; memory_mb: number; run_config_override: unknown };
  settings: Array<{ key: string; value: SettingValue; display: string; source: string }>;
  file_mappings: Array<{
    name: string;
    destination_path: string;
    /** Octal permission bits: writable files belong to the session user, others to root and are read-only. */
    mode: string;
    owner: 'user' | 'root';
    writable: boolean;
    executable: boolean;
    size: number;
    sha256: string;
    source: string;
    content_base64: string;
  }>;
  skipped_file_mappings: Array<{ name: string; destination_path: string; source: string; reason: string }>;
}

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
    })),
    skipped_file_mappings: skipped.map(({ mapping, reason }) => ({
      name: mapping.name,
      destination_path: mapping.destinationPath,
      source: describeMapping(mapping),
      reason,
    })),
  };
}
