// A user's two-factor policy, read from their groups' settings (docs/rules.md#profile-settings). Pure: the login, the
// profile and the admin's user page all decide from here.
import { resolveEffectiveSettings, type GroupWithSettings } from './effective-settings.js';

export interface TwoFactorPolicy {
  /** Any of the user's groups sets require_2fa. */
  required: boolean;
  /** The user may enrol themselves (allow_2fa_self_enrollment and allow_totp_2fa). */
  selfEnrollment: boolean;
}

/** The policy of a user in `groups` (their groups, with the settings each sets). */
export function twoFactorPolicyOf(groups: readonly GroupWithSettings[]): TwoFactorPolicy {
  const effective = resolveEffectiveSettings(groups);
  return {
    required: groups.some((group) => group.settings.require_2fa === true),
    selfEnrollment:
      effective.get('allow_2fa_self_enrollment')!.value === true && effective.get('allow_totp_2fa')!.value === true,
  };
}
