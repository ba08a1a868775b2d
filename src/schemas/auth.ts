import { Type } from 'typebox';
import { FormText, formBody, queryString } from './common.js';

/** `next` is checked by safeReturnPath, which turns anything unsafe into `/`: only its length is bounded here. */
export const LoginQuery = queryString({ next: Type.Optional(FormText(4096)) });

export const LoginBody = formBody({
  username: Type.Optional(FormText(1024)),
  password: Type.Optional(FormText(4096)),
  next: Type.Optional(FormText(4096)),
});

export const SecondFactorBody = formBody({ code: Type.Optional(FormText(64)) });

export const PasswordResetBody = formBody({
  password: Type.Optional(FormText(4096)),
  password_confirm: Type.Optional(FormText(4096)),
});
