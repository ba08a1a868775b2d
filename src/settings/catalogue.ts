// docs/rules.md#settings-and-precedence: every setting a group may set, declared once. The group settings form, value
// validation and the effective-settings resolver are all driven by this list: adding a
// setting is adding one entry here.

export type SettingType = 'bool' | 'int' | 'float' | 'string' | 'enum' | 'json' | 'image';
export type SettingValue = boolean | number | string | null | Record<string, unknown>;

export interface SettingDefinition {
  key: string;
  label: string;
  section: 'Auth' | 'User preferences' | 'Session rights' | 'Limits' | 'Other';
  type: SettingType;
  default: SettingValue;
  description: string;
  /** Allowed values of an enum. */
  values?: readonly string[];
  /** Bounds of an int or float. */
  min?: number;
  max?: number;
  /** `merge`: every member group's value is combined (lower priority number wins per key). */
  resolution?: 'merge';
  /** The user setting (docs/rules.md#profile-settings) that overrides this one, when users may set it. */
  userKey?: string;
}

const sessionRight = (key: string, label: string, description: string, fallback = false): SettingDefinition => ({
  key,
  label,
  section: 'Session rights',
  type: 'bool',
  default: fallback,
  description,
});

export const SETTINGS: readonly SettingDefinition[] = [
  // Auth
  {
    key: 'require_2fa',
    label: 'Require Two-Factor Authentication',
    section: 'Auth',
    type: 'bool',
    default: false,
    description: 'Members must enrol a second factor at login.',
  },
  {
    key: 'allow_2fa_self_enrollment',
    label: 'Allow 2FA Self Enrollment',
    section: 'Auth',
    type: 'bool',
    default: true,
    description: 'Members may enrol two-factor authentication from their profile.',
  },
  {
    key: 'allow_totp_2fa',
    label: 'Allow TOTP 2FA',
    section: 'Auth',
    type: 'bool',
    default: true,
    description: 'Authenticator-app codes (TOTP) are an allowed second factor.',
  },
  {
    key: 'password_expires',
    label: 'Password Expires (days)',
    section: 'Auth',
    type: 'int',
    default: 0,
    min: 0,
    max: 3650,
    description: 'Days until a password must be changed; 0 never expires.',
  },
  {
    key: 'auto_add_local_users',
    label: 'Auto Add Local Users',
    section: 'Auth',
    type: 'bool',
    default: false,
    description: 'Local users join this group when created and at login.',
  },
  // Counterparts of the user's own settings
  {
    key: 'auto_login_to_kasm',
    label: 'Auto Launch Session',
    section: 'User preferences',
    type: 'bool',
    default: false,
    userKey: 'auto_login_kasm',
    description: 'Start the default workspace right after login.',
  },
  {
    key: 'default_image',
    label: 'Default Workspace Image',
    section: 'User preferences',
    type: 'image',
    default: null,
    userKey: 'default_image',
    description: 'The workspace launched by Launch Now and /go.',
  },
  {
    key: 'chat_sfx',
    label: 'Chat Sound Effects',
    section: 'User preferences',
    type: 'bool',
    default: true,
    userKey: 'chat_sfx',
    description: 'Play sounds for chat messages.',
  },
  {
    key: 'show_tips',
    label: 'Show Tips During Session',
    section: 'User preferences',
    type: 'bool',
    default: true,
    userKey: 'show_tips',
    description: 'Show tips in the session.',
  },
  {
    key: 'toggle_control_panel',
    label: 'Toggle Control Panel',
    section: 'User preferences',
    type: 'bool',
    default: true,
    userKey: 'toggle_control_panel',
    description: 'Open and close the in-session panel by pressing Ctrl twice.',
  },
  {
    key: 'theme',
    label: 'Theme',
    section: 'User preferences',
    type: 'enum',
    values: ['Auto', 'Light', 'Dark'],
    default: 'Auto',
    userKey: 'theme',
    description: 'Auto follows the operating system.',
  },
  {
    key: 'default_ui_language',
    label: 'Default UI Language',
    section: 'User preferences',
    type: 'string',
    default: null,
    userKey: 'preferred_language',
    description: 'A BCP 47 language tag such as en-US.',
  },
  // Session rights
  sessionRight('allow_kasm_audio', 'Allow Audio', 'Sound from the session.'),
  sessionRight('allow_kasm_clipboard_down', 'Allow Clipboard Down', 'Copy from the session to the local computer.'),
  sessionRight('allow_kasm_clipboard_up', 'Allow Clipboard Up', 'Paste from the local computer into the session.'),
  sessionRight('allow_kasm_clipboard_seamless', 'Allow Seamless Clipboard', 'Clipboard synchronised without prompts.'),
  sessionRight('allow_kasm_downloads', 'Allow Downloads', 'Download files from the session.'),
  sessionRight('allow_kasm_uploads', 'Allow Uploads', 'Upload files into the session.'),
  sessionRight('allow_kasm_printing', 'Allow Printing', 'Print from the session.'),
  sessionRight('allow_kasm_microphone', 'Allow Microphone', 'Use the local microphone in the session.'),
  sessionRight('allow_kasm_webcam', 'Allow Webcam', 'Use the local webcam in the session.'),
  sessionRight('allow_kasm_gamepad', 'Allow Gamepad', 'Use a local gamepad in the session.'),
  sessionRight('allow_kasm_sharing', 'Allow Sharing', 'Share the session with other users.'),
  sessionRight('allow_kasm_pause', 'Allow Pause', 'Pause a running session.'),
  sessionRight('allow_kasm_stop', 'Allow Stop', 'Stop a running session.'),
  sessionRight('allow_kasm_delete', 'Allow Delete', 'Delete a session.', true),
  sessionRight('allow_persistent_profile', 'Allow Persistent Profile', 'Keep the profile between sessions.'),
  // Limits
  {
    key: 'max_kasms_per_user',
    label: 'Max Sessions Per User',
    section: 'Limits',
    type: 'int',
    default: 5,
    min: 0,
    max: 1000,
    description: 'Sessions a member may run at once.',
  },
  {
    key: 'session_time_limit',
    label: 'Session Time Limit (seconds)',
    section: 'Limits',
    type: 'int',
    default: 0,
    min: 0,
    max: 31_536_000,
    description: 'Maximum session length; 0 is unlimited.',
  },
  {
    key: 'idle_disconnect',
    label: 'Idle Disconnect (minutes)',
    section: 'Limits',
    type: 'float',
    default: 20,
    min: 0,
    max: 525_600,
    description: 'Disconnect after this many idle minutes; 0 never.',
  },
  {
    key: 'keepalive_expiration',
    label: 'Keepalive Expiration (seconds)',
    section: 'Limits',
    type: 'int',
    default: 3600,
    min: 0,
    max: 31_536_000,
    description: 'Time without keepalive before the expiration action.',
  },
  {
    key: 'keepalive_expiration_action',
    label: 'Keepalive Expiration Action',
    section: 'Limits',
    type: 'enum',
    values: ['delete', 'stop', 'pause'],
    default: 'delete',
    description: 'What happens to a session whose keepalive expired.',
  },
  // Other
  {
    key: 'volume_mapping',
    label: 'Volume Mapping',
    section: 'Other',
    type: 'json',
    default: {},
    resolution: 'merge',
    description: 'Volumes mounted into sessions; merged across all member groups.',
  },
  {
    key: 'run_config',
    label: 'Run Config',
    section: 'Other',
    type: 'json',
    default: {},
    description: 'Container run options (JSON object).',
  },
  {
    key: 'session_banner',
    label: 'Session Banner',
    section: 'Other',
    type: 'string',
    default: null,
    description: 'A message shown in sessions.',
  },
  {
    key: 'record_sessions',
    label: 'Record Sessions',
    section: 'Other',
    type: 'bool',
    default: false,
    description: "Record members' sessions.",
  },
];

const BY_KEY = new Map(SETTINGS.map((setting) => [setting.key, setting]));

export function settingByKey(key: string): SettingDefinition | undefined {
  return BY_KEY.get(key);
}

const STRING_MAX = 10_000;
/** Deepest nesting a JSON setting may have: real ones are a few levels; deeper ones only serve to overflow stacks. */
export const JSON_DEPTH_MAX = 20;

/** Whether `value` nests more than `limit` objects or arrays deep (counted without recursion, so any depth is safe to ask about). */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  const isContainer = (item: unknown): item is object => item !== null && typeof item === 'object';
  let level = isContainer(value) ? [value] : [];
  for (let depth = 1; level.length > 0; depth++) {
    if (depth > limit) return true;
    level = level.flatMap((container) => Object.values(container).filter(isContainer));
  }
  return false;
}

export type ParsedSetting = { ok: true; value: SettingValue } | { ok: false; error: string };

/** A JSON object as typed in a form (empty is {}): the rule of json settings and of a workspace's run config override. */
export function parseJsonObject(
  text: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text.trim() === '' ? '{}' : text);
  } catch (error) {
    return { ok: false, error: `is not valid JSON (${(error as Error).message}).` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'must be a JSON object, like {"key": "value"}.' };
  if (nestsDeeperThan(value, JSON_DEPTH_MAX))
    return { ok: false, error: `must not nest more than ${JSON_DEPTH_MAX} levels deep.` };
  if (JSON.stringify(value).includes('\\u0000')) return { ok: false, error: 'must not contain a NUL character.' };
  return { ok: true, value: value as Record<string, unknown> };
}

/**
 * Turns a form value into the typed value of `setting`. `imageExists` answers whether an
 * enabled workspace has that id (the image type must point at a real one).
 */
export function parseSettingValue(
  setting: SettingDefinition,
  raw: string,
  imageExists: (name: string) => boolean,
): ParsedSetting {
  const text = raw.trim();
  const fail = (error: string): ParsedSetting => ({ ok: false, error: `${setting.label}: ${error}` });
  const inRange = (n: number): ParsedSetting => {
    if (setting.min !== undefined && n < setting.min) return fail(`must be at least ${setting.min}.`);
    if (setting.max !== undefined && n > setting.max)
      return fail(`must be at most ${setting.max.toLocaleString('en-US')}.`);
    return { ok: true, value: n };
  };
  switch (setting.type) {
    case 'bool':
      if (text === 'true') return { ok: true, value: true };
      if (text === 'false') return { ok: true, value: false };
      return fail('choose On or Off.');
    case 'int':
      if (!/^-?\d+$/.test(text)) return fail(`"${text}" is not a whole number.`);
      return inRange(Number(text));
    case 'float':
      if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(text)) return fail(`"${text}" is not a number.`);
      return inRange(Number(text));
    case 'enum':
      if (!setting.values?.includes(text)) return fail(`must be one of ${setting.values?.join(', ')}.`);
      return { ok: true, value: text };
    case 'string':
      if ([...text].length > STRING_MAX)
        return fail(`must be at most ${STRING_MAX.toLocaleString('en-US')} characters.`);
      if (text.includes('\u0000')) return fail('must not contain a NUL character.');
      return { ok: true, value: text === '' ? null : text };
    case 'json': {
      const parsed = parseJsonObject(text);
      return parsed.ok ? parsed : fail(parsed.error);
    }
    case 'image':
      if (text === '') return { ok: true, value: null };
      if (!imageExists(text)) return fail('choose an enabled workspace, or None.');
      return { ok: true, value: text };
  }
}

/** The form control a setting's value is edited with (views/partials/control.eta). */
export interface SettingControl {
  control: 'select' | 'textarea' | 'text';
  /** [value, label] pairs of a select. */
  options?: ReadonlyArray<readonly [string, string]>;
  rows?: number;
  inputmode?: 'numeric' | 'decimal';
}

/** A workspace as a choice of an image setting: [id, friendly name]. */
export type ImageChoice = readonly [string, string];

/** The select of an image setting: None, then the enabled workspaces. */
export function imageControl(choices: readonly ImageChoice[]): SettingControl {
  return { control: 'select', options: [['', 'None'], ...choices] };
}

/** The control of a group setting, by its type (`imageChoices`: the enabled workspaces). */
export function controlOf(setting: SettingDefinition, imageChoices: readonly ImageChoice[] = []): SettingControl {
  switch (setting.type) {
    case 'bool':
      return {
        control: 'select',
        options: [
          ['true', 'On'],
          ['false', 'Off'],
        ],
      };
    case 'enum':
      return { control: 'select', options: (setting.values ?? []).map((value) => [value, value] as const) };
    case 'json':
      return { control: 'textarea', rows: 8 };
    case 'int':
      return { control: 'text', inputmode: 'numeric' };
    case 'float':
      return { control: 'text', inputmode: 'decimal' };
    case 'image':
      return imageControl(imageChoices);
    case 'string':
      return { control: 'text' };
  }
}

/** How a workspace id reads: its name, marked when it cannot be launched. */
export function formatImage(
  id: string,
  workspaceNames: ReadonlyMap<string, { name: string; enabled: boolean }>,
): string {
  const workspace = workspaceNames.get(id);
  if (!workspace) return '(deleted workspace)';
  return workspace.enabled ? workspace.name : `${workspace.name} (disabled)`;
}

/** How a value reads in the UI (`workspaceNames` names the workspaces image settings point at). */
export function formatSettingValue(
  setting: SettingDefinition,
  value: SettingValue,
  workspaceNames: ReadonlyMap<string, { name: string; enabled: boolean }> = new Map(),
): string {
  if (value === null) return setting.type === 'image' ? 'None' : '—';
  if (setting.type === 'image' && typeof value === 'string') return formatImage(value, workspaceNames);
  if (setting.type === 'bool') return value ? 'On' : 'Off';
  if (setting.type === 'json') return JSON.stringify(value);
  return String(value);
}

/** The value as the edit form shows it. */
export function settingFormValue(setting: SettingDefinition, value: SettingValue): string {
  if (value === null) return '';
  if (setting.type === 'json') return JSON.stringify(value, null, 2);
  return String(value);
}
