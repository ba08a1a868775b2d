import { Type } from 'typebox';
import { EmptyForm, FormText, formBody, SettingKey, StringEnum } from './common.js';

export const ProfileSettingParams = Type.Object({ key: SettingKey });
export const ProfileSettingForm = formBody({
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
export const TwoFactorRemoveForm = formBody({ password: Type.Optional(FormText(4096)), code: Type.Optional(FormText(64)) });

export { EmptyForm };
