// docs/rules.md#workspaces-and-the-launch-plan: the fields of a workspace and their rules, for the form (and the API to come).
import { nameProblem } from '../security/text-rules.js';
import { parseJsonObject } from '../settings/catalogue.js';

export interface WorkspaceInput {
  friendlyName: string;
  image: string;
  description: string;
  cores: number;
  memoryMb: number;
  enabled: boolean;
  runConfigOverride: Record<string, unknown>;
}

export type WorkspaceValidation = { ok: true; value: WorkspaceInput } | { ok: false; errors: Record<string, string> };

// The container image reference grammar (distribution/reference): [registry[:port]/]path[:tag][@digest].
const HOST =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?)';
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}';
const DIGEST = 'sha256:[a-f0-9]{64}';
const IMAGE_REFERENCE = new RegExp(
  `^(?:${HOST}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::${TAG})?(?:@${DIGEST})?$`,
);

/** Whether `text` is a container image reference such as `kasmweb/chrome:1.16.0` or `registry:5000/team/app@sha256:…`. */
export function isImageReference(text: string): boolean {
  return text.length <= 512 && IMAGE_REFERENCE.test(text);
}

export const CORES_MAX = 256;
export const MEMORY_MB_MIN = 64;
export const MEMORY_MB_MAX = 1_048_576;

export type WorkspaceFormBody = Partial<
  Record<'friendly_name' | 'image' | 'description' | 'cores' | 'memory_mb' | 'enabled' | 'run_config_override', string>
>;

export function validateWorkspace(body: WorkspaceFormBody): WorkspaceValidation {
  const errors: Record<string, string> = {};
  const friendlyName = (body.friendly_name ?? '').trim();
  const image = (body.image ?? '').trim();
  const description = (body.description ?? '').trim();
  const coresText = (body.cores ?? '').trim();
  const memoryText = (body.memory_mb ?? '').trim();

  const friendlyNameIssue = nameProblem(friendlyName);
  if (friendlyName === '') errors.friendly_name = 'Friendly Name is required.';
  else if ([...friendlyName].length > 255) errors.friendly_name = 'Friendly Name must be at most 255 characters.';
  else if (friendlyNameIssue) errors.friendly_name = `Friendly Name ${friendlyNameIssue}`;

  if (image === '') errors.image = 'Image is required, such as kasmweb/chrome:1.16.0.';
  else if (!isImageReference(image)) {
    errors.image =
      'Image must be a container image reference: registry/name:tag or name@sha256:<64 hex digits>, in lower case.';
  }

  if ([...description].length > 10_000) errors.description = 'Description must be at most 10,000 characters.';
  else if (description.includes('\u0000')) errors.description = 'Description must not contain a NUL character.';

  const cores = Number(coresText);
  if (!/^(\d+(\.\d+)?|\.\d+)$/.test(coresText) || cores <= 0 || cores > CORES_MAX) {
    errors.cores = `Cores must be a number above 0 and at most ${CORES_MAX} (such as 2 or 0.5).`;
  }
  const memoryMb = Number(memoryText);
  if (!/^\d+$/.test(memoryText) || memoryMb < MEMORY_MB_MIN || memoryMb > MEMORY_MB_MAX) {
    errors.memory_mb = `Memory must be a whole number of MB from ${MEMORY_MB_MIN} to ${MEMORY_MB_MAX.toLocaleString('en-US')}.`;
  }

  const runConfig = parseJsonObject(body.run_config_override ?? '');
  if (!runConfig.ok) errors.run_config_override = `Docker Run Config Override ${runConfig.error}`;

  if (Object.keys(errors).length > 0 || !runConfig.ok) return { ok: false, errors };
  return {
    ok: true,
    value: {
      friendlyName,
      image,
      description,
      cores,
      memoryMb,
      enabled: body.enabled !== undefined,
      runConfigOverride: runConfig.value,
    },
  };
}

/** The form's values for a stored workspace. */
export function workspaceFormValues(
  workspace: (Omit<WorkspaceInput, 'runConfigOverride'> & { runConfigOverride: unknown }) | null,
): Required<WorkspaceFormBody> {
  if (!workspace) {
    return {
      friendly_name: '',
      image: '',
      description: '',
      cores: '2',
      memory_mb: '2768',
      enabled: 'on',
      run_config_override: '{}',
    };
  }
  return {
    friendly_name: workspace.friendlyName,
    image: workspace.image,
    description: workspace.description,
    cores: String(workspace.cores),
    memory_mb: String(workspace.memoryMb),
    enabled: workspace.enabled ? 'on' : '',
    run_config_override: JSON.stringify(workspace.runConfigOverride, null, 2),
  };
}
