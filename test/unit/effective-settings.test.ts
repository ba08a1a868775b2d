import { describe, expect, it } from 'vitest';
import { parseSettingValue, SETTINGS, settingByKey, type SettingDefinition } from '../../src/settings/catalogue.js';
import {
  describeSource,
  resolveEffectiveSettings,
  type GroupWithSettings,
} from '../../src/settings/effective-settings.js';

const group = (name: string, priority: number, settings: GroupWithSettings['settings'] = {}): GroupWithSettings => ({
  id: `id-${name}`,
  name,
  priority,
  settings,
});
const allUsers = group('All Users', 1000);

describe('effective settings resolver', () => {
  it('gives every catalogue setting its default when no group sets it', () => {
    const effective = resolveEffectiveSettings([allUsers]);
    expect(effective.size).toBe(SETTINGS.length);
    for (const setting of SETTINGS) {
      expect(effective.get(setting.key)).toEqual({
        key: setting.key,
        value: setting.default,
        source: { type: 'default' },
      });
    }
    expect(effective.get('max_kasms_per_user')!.value).toBe(5);
    expect(effective.get('allow_kasm_delete')!.value).toBe(true);
    expect(effective.get('theme')!.value).toBe('Auto');
  });

  it('takes the value of the group with the lowest priority number that sets it', () => {
    const groups = [
      group('All Users', 1000, { max_kasms_per_user: 1, allow_kasm_audio: true }),
      group('Engineering', 10, { max_kasms_per_user: 3 }),
      group('Contractors', 500, { max_kasms_per_user: 2, allow_kasm_sharing: false }),
    ];
    const effective = resolveEffectiveSettings(groups);
    expect(effective.get('max_kasms_per_user')).toMatchObject({
      value: 3,
      source: { type: 'group', groupName: 'Engineering' },
    });
    expect(effective.get('allow_kasm_audio')).toMatchObject({
      value: true,
      source: { type: 'group', groupName: 'All Users' },
    });
    expect(effective.get('allow_kasm_sharing')).toMatchObject({
      value: false,
      source: { type: 'group', groupName: 'Contractors' },
    });
  });

  it('does not depend on the order the groups come in', () => {
    const a = group('A', 5, { theme: 'Dark' });
    const b = group('B', 7, { theme: 'Light' });
    expect(resolveEffectiveSettings([a, b]).get('theme')!.value).toBe('Dark');
    expect(resolveEffectiveSettings([b, a]).get('theme')!.value).toBe('Dark');
  });

  it('treats a value that is set to false, 0 or None as set, not missing', () => {
    const groups = [
      group('Strict', 1, { chat_sfx: false, max_kasms_per_user: 0, default_ui_language: null }),
      group('Loose', 2, { chat_sfx: true, max_kasms_per_user: 9, default_ui_language: 'de' }),
    ];
    const effective = resolveEffectiveSettings(groups);
    expect(effective.get('chat_sfx')).toMatchObject({ value: false, source: { groupName: 'Strict' } });
    expect(effective.get('max_kasms_per_user')).toMatchObject({ value: 0, source: { groupName: 'Strict' } });
    expect(effective.get('default_ui_language')).toMatchObject({ value: null, source: { groupName: 'Strict' } });
  });

  it('lets the user override only the settings users may set', () => {
    const groups = [group('Engineering', 10, { auto_login_to_kasm: false, theme: 'Light', max_kasms_per_user: 3 })];
    const effective = resolveEffectiveSettings(groups, {
      auto_login_kasm: true,
      theme: 'Dark',
      max_kasms_per_user: 99,
      preferred_language: 'fr',
    });
    expect(effective.get('auto_login_to_kasm')).toEqual({
      key: 'auto_login_to_kasm',
      value: true,
      source: { type: 'user' },
    });
    expect(effective.get('theme')).toMatchObject({ value: 'Dark', source: { type: 'user' } });
    expect(effective.get('default_ui_language')).toMatchObject({ value: 'fr', source: { type: 'user' } });
    // max_kasms_per_user has no user counterpart: the user's value is ignored
    expect(effective.get('max_kasms_per_user')).toMatchObject({ value: 3, source: { type: 'group' } });
    // an undefined user value means "use group default"
    expect(resolveEffectiveSettings(groups, { theme: undefined as never }).get('theme')).toMatchObject({
      value: 'Light',
      source: { type: 'group' },
    });
  });

  it('merges volume_mapping across all member groups, lower priority number winning per key', () => {
    const groups = [
      group('All Users', 1000, {
        volume_mapping: { '/shared': { bind: '/shared', mode: 'ro' }, '/tmp': { bind: '/tmp' } },
      }),
      group('Engineering', 10, {
        volume_mapping: { '/shared': { bind: '/shared', mode: 'rw' }, '/src': { bind: '/src' } },
      }),
      group('Nothing', 20),
    ];
    const effective = resolveEffectiveSettings(groups).get('volume_mapping')!;
    expect(effective.value).toEqual({
      '/shared': { bind: '/shared', mode: 'rw' },
      '/src': { bind: '/src' },
      '/tmp': { bind: '/tmp' },
    });
    expect(effective.source).toEqual({
      type: 'merged',
      groups: [
        { groupId: 'id-Engineering', groupName: 'Engineering' },
        { groupId: 'id-All Users', groupName: 'All Users' },
      ],
    });
    expect(describeSource(effective.source)).toBe('merged from Engineering, All Users');
  });

  it('falls back to the next group when a group is removed', () => {
    const engineering = group('Engineering', 10, { max_kasms_per_user: 3, volume_mapping: { '/src': {} } });
    const everyone = group('All Users', 1000, { max_kasms_per_user: 1, volume_mapping: { '/home': {} } });
    expect(resolveEffectiveSettings([engineering, everyone]).get('max_kasms_per_user')!.value).toBe(3);
    const after = resolveEffectiveSettings([everyone]);
    expect(after.get('max_kasms_per_user')).toMatchObject({ value: 1, source: { groupName: 'All Users' } });
    expect(after.get('volume_mapping')!.value).toEqual({ '/home': {} });
    expect(resolveEffectiveSettings([]).get('max_kasms_per_user')).toMatchObject({
      value: 5,
      source: { type: 'default' },
    });
  });

  it('resolves any catalogue, so a new setting needs only its entry', () => {
    const extra: SettingDefinition = {
      key: 'new_flag',
      label: 'New Flag',
      section: 'Other',
      type: 'bool',
      default: true,
      description: '',
    };
    const effective = resolveEffectiveSettings([group('G', 1, { new_flag: false })], {}, { catalogue: [extra] });
    expect([...effective.keys()]).toEqual(['new_flag']);
    expect(effective.get('new_flag')!.value).toBe(false);
  });

  it('describes sources for people', () => {
    expect(describeSource({ type: 'user' })).toBe('user');
    expect(describeSource({ type: 'default' })).toBe('default');
    expect(describeSource({ type: 'group', groupId: 'x', groupName: 'Engineering' })).toBe('group Engineering');
  });
});

describe('setting values', () => {
  const none = () => false;
  const parse = (key: string, raw: string, images: (name: string) => boolean = none) =>
    parseSettingValue(settingByKey(key)!, raw, images);

  it('validates each type with a clear message', () => {
    expect(parse('max_kasms_per_user', '3')).toEqual({ ok: true, value: 3 });
    expect(parse('max_kasms_per_user', 'abc')).toEqual({
      ok: false,
      error: 'Max Sessions Per User: "abc" is not a whole number.',
    });
    expect(parse('max_kasms_per_user', '2.5')).toMatchObject({ ok: false });
    expect(parse('max_kasms_per_user', '-1')).toEqual({
      ok: false,
      error: 'Max Sessions Per User: must be at least 0.',
    });
    expect(parse('idle_disconnect', '12.5')).toEqual({ ok: true, value: 12.5 });
    expect(parse('idle_disconnect', '1e3')).toMatchObject({ ok: false });
    expect(parse('allow_kasm_sharing', 'true')).toEqual({ ok: true, value: true });
    expect(parse('allow_kasm_sharing', 'yes')).toMatchObject({ ok: false });
    expect(parse('theme', 'Dark')).toEqual({ ok: true, value: 'Dark' });
    expect(parse('theme', 'Purple')).toEqual({ ok: false, error: 'Theme: must be one of Auto, Light, Dark.' });
    expect(parse('keepalive_expiration_action', 'pause')).toEqual({ ok: true, value: 'pause' });
    expect(parse('session_banner', '  Be nice  ')).toEqual({ ok: true, value: 'Be nice' });
    expect(parse('session_banner', '')).toEqual({ ok: true, value: null });
  });

  it('requires json to parse into an object', () => {
    expect(parse('volume_mapping', '{"/a": {"bind": "/a"}}')).toEqual({ ok: true, value: { '/a': { bind: '/a' } } });
    expect(parse('run_config', '{oops')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^Run Config: is not valid JSON/),
    });
    expect(parse('run_config', '[1,2]')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/must be a JSON object/),
    });
  });

  it('requires an image to exist', () => {
    expect(parse('default_image', 'chrome')).toEqual({
      ok: false,
      error: 'Default Workspace Image: choose an enabled workspace, or None.',
    });
    expect(parse('default_image', 'chrome', (name) => name === 'chrome')).toEqual({ ok: true, value: 'chrome' });
    expect(parse('default_image', '')).toEqual({ ok: true, value: null });
  });

  it('has one entry per key', () => {
    expect(new Set(SETTINGS.map((s) => s.key)).size).toBe(SETTINGS.length);
  });
});

describe('JSON settings depth', () => {
  it('refuses a value nested deeper than the limit without overflowing the stack', async () => {
    const { JSON_DEPTH_MAX, nestsDeeperThan, parseSettingValue, settingByKey } =
      await import('../../src/settings/catalogue.js');
    const volumeMapping = settingByKey('volume_mapping')!;
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const parsed = parseSettingValue(volumeMapping, deep, () => false);
    expect(parsed).toEqual({
      ok: false,
      error: `Volume Mapping: must not nest more than ${JSON_DEPTH_MAX} levels deep.`,
    });
    expect(nestsDeeperThan({ a: { b: [1, { c: 2 }] } }, 4)).toBe(false);
    expect(nestsDeeperThan({ a: { b: [1, { c: { d: 1 } }] } }, 4)).toBe(true);
    expect(parseSettingValue(volumeMapping, '{"/data": {"bind": "/home", "mode": "rw"}}', () => false).ok).toBe(true);
  });
});
