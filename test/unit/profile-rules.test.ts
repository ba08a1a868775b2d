import { resolveEffectiveSettings } from '../../src/settings/effective-settings.js';
import crypto from 'node:crypto';
import { generate, generateSecret } from 'otplib';
import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/security/secret-box.js';
import { matchingStep, TOTP_PERIOD } from '../../src/auth/two-factor-commands.js';
import {
  effectiveUserSettings,
  formValueOf,
  parseUserSetting,
  profileSavedMessage,
  readProfileForm,
  resetLabelOf,
  sshKeyProblem,
  themeOf,
  userSettingByKey,
} from '../../src/settings/user-settings.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop';

describe('TOTP verification windows', () => {
  const secret = generateSecret({ length: 20 });
  const at = (seconds: number) => generate({ secret, epoch: seconds });
  const t0 = 1_700_000_010; // inside step 56666667

  it('accepts the current step and one step either side, and says which', async () => {
    const step = Math.floor(t0 / TOTP_PERIOD);
    expect(await matchingStep(secret, await at(t0), t0 * 1000)).toBe(step);
    expect(await matchingStep(secret, await at(t0 - 30), t0 * 1000)).toBe(step - 1);
    expect(await matchingStep(secret, await at(t0 + 30), t0 * 1000)).toBe(step + 1);
  });

  it('refuses codes two steps away, malformed codes and other secrets', async () => {
    expect(await matchingStep(secret, await at(t0 - 60), t0 * 1000)).toBeNull();
    expect(await matchingStep(secret, await at(t0 + 60), t0 * 1000)).toBeNull();
    expect(await matchingStep(secret, '12345', t0 * 1000)).toBeNull();
    expect(await matchingStep(secret, 'abcdef', t0 * 1000)).toBeNull();
    expect(await matchingStep(generateSecret({ length: 20 }), await at(t0), t0 * 1000)).toBeNull();
  });

  it('matches RFC 6238 (SHA-1, 6 digits, 30 s) for the RFC test key', async () => {
    // RFC 6238 appendix B: key "12345678901234567890", T = 59 s → 94287082 (8 digits); 6 digits: 287082
    const rfcSecret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(await matchingStep(rfcSecret, '287082', 59_000)).toBe(1);
    expect(await matchingStep(rfcSecret, '081804', 1_111_111_109_000)).toBe(37_037_036);
  });
});

describe('secret box', () => {
  const box = new SecretBox(crypto.randomBytes(32));

  it('seals and opens, with a fresh nonce each time', () => {
    const sealed = box.seal('JBSWY3DPEHPK3PXP');
    expect(sealed).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.seal('JBSWY3DPEHPK3PXP')).not.toBe(sealed);
    expect(box.open(sealed)).toBe('JBSWY3DPEHPK3PXP');
  });

  it('refuses tampered data and other keys', () => {
    const sealed = box.seal('secret');
    const parts = sealed.split(':');
    parts[3] = Buffer.from('SECRET').toString('base64');
    expect(() => box.open(parts.join(':'))).toThrow();
    expect(() => new SecretBox(crypto.randomBytes(32)).open(sealed)).toThrow();
  });
});

describe('profile settings', () => {
  const parse = (key: string, raw: string) => parseUserSetting(userSettingByKey(key)!, raw, () => false);

  it('validates time zones, language tags and SSH keys', () => {
    expect(parse('preferred_timezone', 'Europe/Berlin')).toEqual({ ok: true, value: 'Europe/Berlin' });
    expect(parse('preferred_timezone', 'UTC')).toEqual({ ok: true, value: 'UTC' });
    expect(parse('preferred_timezone', 'Mars/Olympus')).toMatchObject({
      ok: false,
      error: expect.stringContaining('not an IANA time zone'),
    });
    expect(parse('preferred_language', 'en-us')).toEqual({ ok: true, value: 'en-US' });
    expect(parse('preferred_language', 'de')).toEqual({ ok: true, value: 'de' });
    expect(parse('preferred_language', 'english please')).toMatchObject({
      ok: false,
      error: expect.stringContaining('BCP 47'),
    });
    expect(parse('ssh_public_key', ED25519)).toEqual({ ok: true, value: ED25519 });
    expect(parse('default_image', '')).toEqual({ ok: true, value: null });
    expect(parse('default_image', 'chrome')).toMatchObject({
      ok: false,
      error: expect.stringContaining('must be an enabled workspace'),
    });
    expect(parse('theme', 'Dark')).toEqual({ ok: true, value: 'Dark' });
    expect(parse('theme', 'Neon')).toMatchObject({ ok: false });
    expect(parse('auto_login_kasm', 'true')).toEqual({ ok: true, value: true });
  });

  it('parses OpenSSH public key lines strictly', () => {
    expect(sshKeyProblem(ED25519)).toBeNull();
    expect(sshKeyProblem(ED25519.replace(' alice@laptop', ''))).toBeNull();
    expect(sshKeyProblem('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl')).toMatch(
      /does not match its type/,
    );
    expect(sshKeyProblem('ssh-foo AAAA')).toMatch(/not an OpenSSH public key type/);
    expect(sshKeyProblem('ssh-ed25519 not*base64')).toMatch(/must look like/);
    expect(sshKeyProblem('-----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjE=')).toMatch(
      /not an OpenSSH public key type/,
    );
    expect(sshKeyProblem(`${ED25519}\nssh-ed25519 AAAA`)).toMatch(/single line/);
  });

  it('says where each effective value comes from', () => {
    const groups = [
      { id: 'e', name: 'Engineering', priority: 10, settings: { auto_login_to_kasm: true, theme: 'Dark' } },
    ];
    const own = { theme: 'Light', preferred_timezone: 'UTC' };
    const rows = effectiveUserSettings(resolveEffectiveSettings(groups, own), own);
    const row = (key: string) => rows.find((r) => r.setting.key === key)!;
    expect(row('auto_login_kasm')).toMatchObject({
      value: true,
      source: { type: 'group', groupName: 'Engineering' },
      own: false,
    });
    expect(row('theme')).toMatchObject({ value: 'Light', source: { type: 'user' }, own: true });
    expect(row('chat_sfx')).toMatchObject({ value: true, source: { type: 'default' } });
    expect(row('preferred_timezone')).toMatchObject({ value: 'UTC', source: { type: 'user' } });
    expect(row('ssh_public_key')).toMatchObject({ value: null, source: { type: 'default' } });
    expect(themeOf(rows)).toBe('light');
    expect(themeOf(effectiveUserSettings(resolveEffectiveSettings(groups), {}))).toBe('dark');
    expect(themeOf(effectiveUserSettings(resolveEffectiveSettings([]), {}))).toBe('auto');
  });
});

describe('reading the profile settings form', () => {
  const resolved = resolveEffectiveSettings([], {}, { usableImages: new Set() });
  const current = (own: Record<string, unknown> = {}) =>
    effectiveUserSettings(resolveEffectiveSettings([], own as never, { usableImages: new Set() }), own as never);
  const none = () => false;

  it('counts only fields whose text and value changed, and refuses nothing it does not read', () => {
    expect(resolved.size).toBeGreaterThan(0);
    const shown = Object.fromEntries(current().map((e) => [e.setting.key, formValueOf(e.value)]));
    expect(readProfileForm(current(), shown, none)).toEqual({ changes: new Map(), errors: new Map() });
    const { changes, errors } = readProfileForm(
      current(),
      { ...shown, theme: 'Dark', preferred_timezone: 'Mars/Base' },
      none,
    );
    expect([...changes]).toEqual([['theme', 'Dark']]);
    expect([...errors.keys()]).toEqual(['preferred_timezone']);
  });

  it('resets the pressed row (over what was typed into it), and reads one row alone when asked', () => {
    const own = current({ theme: 'Dark' });
    expect([...readProfileForm(own, { theme: 'Light' }, none, { reset: 'theme' }).changes]).toEqual([
      ['theme', undefined],
    ]);
    expect(readProfileForm(current(), {}, none, { reset: 'theme' }).changes.size).toBe(0); // nothing of one's own to reset
    // A row's own Save keeps its value as the user's even when it equals the effective one.
    expect([
      ...readProfileForm(current(), { theme: 'Auto', chat_sfx: 'false' }, none, { only: 'theme' }).changes,
    ]).toEqual([['theme', 'Auto']]);
  });

  it('words the message after a save', () => {
    const after = current({ theme: 'Dark' });
    expect(
      profileSavedMessage(
        new Map<string, unknown>([
          ['theme', 'Dark'],
          ['chat_sfx', false],
          ['show_tips', true],
        ]) as never,
        after,
      ),
    ).toBe('Chat Sound Effects, Show Tips During Session and Theme saved.');
    expect(profileSavedMessage(new Map([['ssh_public_key', undefined]]), after)).toBe('SSH Public Key cleared.');
    expect(profileSavedMessage(new Map(), after)).toBe('No changes to save.');
    expect(resetLabelOf(userSettingByKey('preferred_timezone')!)).toBe('Clear');
    expect(resetLabelOf(userSettingByKey('theme')!)).toBe('Use group default');
  });
});
