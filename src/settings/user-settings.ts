import type { Theme } from '../security/current-user.js';
import { nameProblem } from '../security/text-rules.js';
import {
  formatImage,
  imageControl,
  settingByKey,
  type ImageChoice,
  type SettingControl,
  type SettingValue,
} from './catalogue.js';
import type { SettingSource } from './effective-settings.js';

// docs/rules.md#profile-settings: the settings users set for themselves on their profile. A user value overrides the
// group counterpart (`groupKey`, resolved by the effective-settings resolver); "Use group
// default" deletes the user value.

export type UserSettingKind = 'bool' | 'theme' | 'image' | 'language' | 'timezone' | 'ssh_key';

export interface UserSettingDefinition {
  key: string;
  label: string;
  kind: UserSettingKind;
  description: string;
  /** The group setting it overrides; settings without one default to None. */
  groupKey?: string;
}

export const USER_SETTINGS: readonly UserSettingDefinition[] = [
  {
    key: 'auto_login_kasm',
    label: 'Auto Launch Session',
    kind: 'bool',
    groupKey: 'auto_login_to_kasm',
    description: 'Start your default workspace right after you log in.',
  },
  {
    key: 'chat_sfx',
    label: 'Chat Sound Effects',
    kind: 'bool',
    groupKey: 'chat_sfx',
    description: 'Play sounds for chat messages.',
  },
  {
    key: 'default_image',
    label: 'Default Workspace Image',
    kind: 'image',
    groupKey: 'default_image',
    description: 'The workspace Launch Now starts.',
  },
  {
    key: 'show_tips',
    label: 'Show Tips During Session',
    kind: 'bool',
    groupKey: 'show_tips',
    description: 'Show tips in your sessions.',
  },
  {
    key: 'toggle_control_panel',
    label: 'Toggle Control Panel',
    kind: 'bool',
    groupKey: 'toggle_control_panel',
    description: 'Open and close the in-session panel by pressing Ctrl twice.',
  },
  {
    key: 'theme',
    label: 'Theme',
    kind: 'theme',
    groupKey: 'theme',
    description: 'Auto follows your operating system.',
  },
  {
    key: 'preferred_language',
    label: 'Preferred Language',
    kind: 'language',
    groupKey: 'default_ui_language',
    description: 'A BCP 47 language tag, such as en-US or de.',
  },
  {
    key: 'preferred_timezone',
    label: 'Preferred Timezone',
    kind: 'timezone',
    description: 'An IANA time zone, such as Europe/Berlin.',
  },
  {
    key: 'ssh_public_key',
    label: 'SSH Public Key',
    kind: 'ssh_key',
    description: 'One OpenSSH public key line: type, key, optional comment.',
  },
];

export const THEMES = ['Auto', 'Light', 'Dark'] as const;

export function userSettingByKey(key: string): UserSettingDefinition | undefined {
  return USER_SETTINGS.find((setting) => setting.key === key);
}

const TIME_ZONES = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
const SSH_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** An OpenSSH public key line: known type, base64 blob whose embedded type matches, optional comment (plain text). */
export function sshKeyProblem(line: string): string | null {
  if (/[\r\n]/.test(line)) return 'must be a single line.';
  if (line.length > 16_384) return 'is too long for a public key.';
  const match = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: (.*))?$/.exec(line);
  if (!match) return 'must look like "ssh-ed25519 AAAA… comment".';
  const [, type, blob, comment] = match;
  if (!SSH_KEY_TYPES.has(type!)) return `"${type}" is not an OpenSSH public key type.`;
  // The comment is what people read in a key list: no escape sequences, nothing invisible.
  const commentProblem = comment === undefined ? null : nameProblem(comment);
  if (commentProblem) return `comment ${commentProblem}`;
  const bytes = Buffer.from(blob!, 'base64');
  if (bytes.length < 4 + type!.length || bytes.toString('base64') !== blob) return 'the key data is not valid base64.';
  const embeddedLength = bytes.readUInt32BE(0);
  if (bytes.subarray(4, 4 + embeddedLength).toString('latin1') !== type) return 'the key data does not match its type.';
  return null;
}

export type ParsedUserSetting = { ok: true; value: SettingValue } | { ok: false; error: string };

/** Validates a profile form value. `imageExists` answers whether an enabled workspace has that id; None is a choice of its own. */
export function parseUserSetting(
  setting: UserSettingDefinition,
  raw: string,
  imageExists: (name: string) => boolean,
): ParsedUserSetting {
  const text = raw.trim();
  const fail = (error: string): ParsedUserSetting => ({ ok: false, error: `${setting.label} ${error}` });
  switch (setting.kind) {
    case 'bool':
      if (text === 'true' || text === 'false') return { ok: true, value: text === 'true' };
      return fail('must be On or Off.');
    case 'theme':
      return (THEMES as readonly string[]).includes(text)
        ? { ok: true, value: text }
        : fail(`must be one of ${THEMES.join(', ')}.`);
    case 'image':
      if (text === '') return { ok: true, value: null };
      return imageExists(text) ? { ok: true, value: text } : fail('must be an enabled workspace, or None.');
    case 'language': {
      if (text === '') return fail('needs a language tag, such as en-US.');
      try {
        const [canonical] = Intl.getCanonicalLocales(text);
        return { ok: true, value: canonical! };
      } catch {
        return fail(`"${text}" is not a BCP 47 language tag (such as en-US or de).`);
      }
    }
    case 'timezone':
      return TIME_ZONES.has(text)
        ? { ok: true, value: text }
        : fail(`"${text}" is not an IANA time zone (such as Europe/Berlin).`);
    case 'ssh_key': {
      const line = raw.trim().replace(/\s+/g, ' ');
      const problem = sshKeyProblem(line);
      return problem ? fail(problem) : { ok: true, value: line };
    }
  }
}

/** What a setting's field shows for a value (None is an empty field). */
export function formValueOf(value: SettingValue): string {
  return value === null ? '' : String(value);
}

/** "Use group default" where a group can set the value; "Clear" where none can (the value falls back to None). */
export function resetLabelOf(setting: UserSettingDefinition): string {
  return setting.groupKey ? 'Use group default' : 'Clear';
}

export interface ProfileFormReading {
  /** The settings to change, in catalogue order; undefined clears the user's own value. */
  changes: Map<string, SettingValue | undefined>;
  /** Each refused field's message, by key. */
  errors: Map<string, string>;
}

/**
 * Reads the profile's settings form: a field counts as changed when its text differs from what
 * the page showed and its value differs from the effective one (so an untouched row never turns
 * a group's value into an override). `reset` names the row whose "Use group default" (or Clear)
 * was pressed; it wins over a value typed into the same row. `only` reads that one row, as its
 * own Save button asks: its value is saved as the user's own even when it equals the group's.
 */
export function readProfileForm(
  current: readonly EffectiveUserSetting[],
  fields: Readonly<Record<string, string | undefined>>,
  imageExists: (id: string) => boolean,
  { reset, only }: { reset?: string | undefined; only?: string | undefined } = {},
): ProfileFormReading {
  const changes = new Map<string, SettingValue | undefined>();
  const errors = new Map<string, string>();
  for (const { setting, value, own } of current) {
    if (only !== undefined && setting.key !== only) continue;
    if (reset === setting.key) {
      if (own || only !== undefined) changes.set(setting.key, undefined);
      continue;
    }
    const raw = fields[setting.key];
    if (raw === undefined) continue;
    if (only === undefined && raw.trim() === formValueOf(value).trim()) continue;
    const parsed = parseUserSetting(setting, raw, imageExists);
    if (!parsed.ok) errors.set(setting.key, parsed.error);
    else if (only !== undefined || JSON.stringify(parsed.value) !== JSON.stringify(value))
      changes.set(setting.key, parsed.value);
  }
  return { changes, errors };
}

/** The message after a save: "Theme saved.", "Theme and Chat Sound Effects saved.", a reset says what now applies. */
export function profileSavedMessage(
  changes: ReadonlyMap<string, SettingValue | undefined>,
  after: readonly EffectiveUserSetting[],
  workspaceNames?: ReadonlyMap<string, { name: string; enabled: boolean }>,
): string {
  const saved: string[] = [];
  const reset: string[] = [];
  for (const { setting, value } of after) {
    if (!changes.has(setting.key)) continue;
    if (changes.get(setting.key) !== undefined) saved.push(setting.label);
    else if (setting.groupKey)
      reset.push(`${setting.label} now follows your groups: ${formatUserSetting(setting, value, workspaceNames)}.`);
    else reset.push(`${setting.label} cleared.`);
  }
  if (saved.length === 0 && reset.length === 0) return 'No changes to save.';
  const list = saved.length <= 1 ? saved.join('') : `${saved.slice(0, -1).join(', ')} and ${saved.at(-1)}`;
  return [saved.length > 0 ? `${list} saved.` : '', ...reset].filter(Boolean).join(' ');
}

export interface EffectiveUserSetting {
  setting: UserSettingDefinition;
  value: SettingValue;
  source: SettingSource;
  /** The user has a value of their own (so "Use group default" applies). */
  own: boolean;
}

/** Every profile setting's effective value and its source, read off the resolved settings of one user. */
export function effectiveUserSettings(
  resolved: ReadonlyMap<string, { value: SettingValue; source: SettingSource }>,
  userValues: Readonly<Record<string, SettingValue>>,
): EffectiveUserSetting[] {
  return USER_SETTINGS.map((setting) => {
    const own = setting.key in userValues;
    if (setting.groupKey) {
      const { value, source } = resolved.get(setting.groupKey)!;
      return { setting, value, source, own };
    }
    return own
      ? { setting, value: userValues[setting.key]!, source: { type: 'user' }, own }
      : { setting, value: null, source: { type: 'default' }, own };
  });
}

/** The control a profile setting is edited with (the same partial as the group settings form). */
export function userSettingControl(
  setting: UserSettingDefinition,
  imageChoices: readonly ImageChoice[] = [],
): SettingControl {
  switch (setting.kind) {
    case 'bool':
      return {
        control: 'select',
        options: [
          ['true', 'On'],
          ['false', 'Off'],
        ],
      };
    case 'theme':
      return { control: 'select', options: THEMES.map((theme) => [theme, theme] as const) };
    case 'image':
      return imageControl(imageChoices);
    case 'ssh_key':
      return { control: 'textarea', rows: 3 };
    case 'language':
    case 'timezone':
      return { control: 'text' };
  }
}

/** How a profile value reads (`workspaceNames` names the workspace a Default Workspace Image points at). */
export function formatUserSetting(
  setting: UserSettingDefinition,
  value: SettingValue,
  workspaceNames: ReadonlyMap<string, { name: string; enabled: boolean }> = new Map(),
): string {
  if (value === null) return 'None';
  if (setting.kind === 'image' && typeof value === 'string') return formatImage(value, workspaceNames);
  if (setting.kind === 'bool') return value ? 'On' : 'Off';
  return String(value);
}

/** "your choice", "from group Engineering", "default". */
export function describeUserSource(source: SettingSource): string {
  if (source.type === 'user') return 'your choice';
  if (source.type === 'group') return `from group ${source.groupName}`;
  if (source.type === 'merged') return `from groups ${source.groups.map((g) => g.groupName).join(', ')}`;
  return 'default';
}

/** The theme a stored Theme value stands for (Auto when unset or unknown). */
export function themeFromValue(value: unknown): Theme {
  return value === 'Light' ? 'light' : value === 'Dark' ? 'dark' : 'auto';
}

/** The theme a user's pages are drawn in. */
export function themeOf(effective: readonly EffectiveUserSetting[]): Theme {
  return themeFromValue(effective.find((e) => e.setting.key === 'theme')?.value);
}

// Every group counterpart named here must exist in the group catalogue.
for (const setting of USER_SETTINGS) {
  if (setting.groupKey && !settingByKey(setting.groupKey)) throw new Error(`unknown group setting ${setting.groupKey}`);
}
