import { Type } from 'typebox';
import { Checkbox, EmptyForm, FormText, formBody, IdParams } from './common.js';

export const ApiKeyParams = IdParams;

/** The API key form; validateApiKey gives the friendly messages. */
export const ApiKeyForm = formBody({
  name: Type.Optional(FormText(1024)),
  read_only: Checkbox,
  enabled: Checkbox,
  expires: Type.Optional(FormText(64)),
});

export { PermissionsForm } from './groups.js';
export { EmptyForm };
