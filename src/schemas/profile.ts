import { Type, type TOptional, type TString } from 'typebox';
import { EmptyForm, FormText, formBody, SettingKey, StringEnum } from './common.js';

export const ProfileSettingParams = Type.Object({ key: SettingKey });
/** The profile's setting fields, each named by its key (src/profile/routes.ts checks the list against the catalogue). */
export const PROFILE_SETTING_FIELDS = [
  'auto_login_kasm',
  'chat_sfx',
  'default_image',
  'show_tips',
  'toggle_control_panel',
  'theme',
  'preferred_language',
  'preferred_timezone',
  'ssh_public_key',
] as const;

const settingFields = Object.fromEntries(
  PROFILE_SETTING_FIELDS.map((key) => [key, Type.Optional(FormText(20_000))]),
) as Record<(typeof PROFILE_SETTING_FIELDS)[number], TOptional<TString>>;

/** The one settings form: every field, and `reset` naming the row whose "Use group default" was pressed. */
export const ProfileSettingsForm = formBody({ ...settingFields, reset: Type.Optional(SettingKey) });

/** One row saved on its own (htmx sends the whole form; the row's field or `value` counts). */
export const ProfileSettingForm = formBody({
  ...settingFields,
  reset: Type.Optional(SettingKey),
  value: Type.Optional(FormText(20_000)),
  action: Type.Optional(StringEnum(['save', 'reset'])),
});

export const PasswordChangeForm = formBody({
  current_password: Type.Optional(FormText(4096)),
  password: Type.Optional(FormText(4096)),
  password_confirm: Type.Optional(FormText(4096)),
});

/** A session's handle: a hash prefix, never the session id (see sessionHandle). */
export const SessionHandleParams = Type.Object({ handle: Type.String({ pattern: '^[0-9a-f]{24}$' }) });

export const TwoFactorCodeForm = formBody({ code: Type.Optional(FormText(64)) });
export const TwoFactorRemoveForm = formBody({
  password: Type.Optional(FormText(4096)),
  code: Type.Optional(FormText(64)),
});

export { EmptyForm };
