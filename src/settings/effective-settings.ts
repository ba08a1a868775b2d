import { SETTINGS, type SettingDefinition, type SettingValue } from './catalogue.js';

export interface GroupWithSettings {
  id: string;
  name: string;
  priority: number;
  settings: Readonly<Record<string, SettingValue>>;
}

export type SettingSource =
  | { type: 'user' }
  | { type: 'group'; groupId: string; groupName: string }
  | { type: 'merged'; groups: Array<{ groupId: string; groupName: string }> }
  | { type: 'default' };

export interface EffectiveSetting {
  key: string;
  value: SettingValue;
  source: SettingSource;
}

/**
 * A user's effective value of every setting, and where each came from (docs/rules.md#settings-and-precedence):
 * 1. the user's own value, for settings a user may set (`userKey`), else
 * 2. the value of the member group with the lowest priority number that sets it, else
 * 3. the catalogue default.
 * Settings with `resolution: 'merge'` (volume_mapping) combine every member group's object
 * instead; on a clash of keys the group with the lower priority number wins.
 * An image value naming a workspace that is not in `usableImages` (disabled or deleted) is
 * passed over, so the next source applies; None (null) is a value like any other.
 */
export function resolveEffectiveSettings(
  groups: readonly GroupWithSettings[],
  userValues: Readonly<Record<string, SettingValue>> = {},
  options: { usableImages?: ReadonlySet<string>; catalogue?: readonly SettingDefinition[] } = {},
): Map<string, EffectiveSetting> {
  const { usableImages, catalogue = SETTINGS } = options;
  const byPriority = [...groups].sort((a, b) => a.priority - b.priority);
  const effective = new Map<string, EffectiveSetting>();
  for (const setting of catalogue) {
    const { key } = setting;
    const usable = (value: SettingValue | undefined): value is SettingValue =>
      value !== undefined &&
      !(
        setting.type === 'image' &&
        typeof value === 'string' &&
        usableImages !== undefined &&
        !usableImages.has(value)
      );
    if (setting.userKey !== undefined && usable(userValues[setting.userKey])) {
      effective.set(key, { key, value: userValues[setting.userKey]!, source: { type: 'user' } });
      continue;
    }
    const setters = byPriority.filter((group) => key in group.settings && usable(group.settings[key]));
    const first = setters[0];
    if (!first) {
      effective.set(key, { key, value: setting.default, source: { type: 'default' } });
    } else if (setting.resolution === 'merge') {
      const merged: Record<string, unknown> = {};
      for (const group of setters) {
        for (const [entry, value] of Object.entries(group.settings[key] as Record<string, unknown>)) {
          if (!(entry in merged)) merged[entry] = value;
        }
      }
      const sources = setters.map((group) => ({ groupId: group.id, groupName: group.name }));
      effective.set(key, { key, value: merged, source: { type: 'merged', groups: sources } });
    } else {
      effective.set(key, {
        key,
        value: first.settings[key]!,
        source: { type: 'group', groupId: first.id, groupName: first.name },
      });
    }
  }
  return effective;
}

/** "user", "group Engineering", "merged from A, B", "default". */
export function describeSource(source: SettingSource): string {
  switch (source.type) {
    case 'user':
      return 'user';
    case 'group':
      return `group ${source.groupName}`;
    case 'merged':
      return `merged from ${source.groups.map((g) => g.groupName).join(', ')}`;
    case 'default':
      return 'default';
  }
}
