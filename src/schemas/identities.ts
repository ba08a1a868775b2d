import { Type } from 'typebox';
import { FormText, formBody, queryString, QueryText, Uuid } from './common.js';

export const UserIdentityParams = Type.Object({ id: Uuid, identityId: Uuid });
export const IdentityLookupQuery = queryString({
  provider_id: Type.Optional(QueryText(64)),
  name: Type.Optional(QueryText(255)),
});
export const IdentityLinkForm = formBody({ provider_id: FormText(64), name: FormText(255), subject: FormText(255) });
export const IdentityUnlinkForm = formBody({
  password: Type.Optional(FormText(1024)),
  password_confirm: Type.Optional(FormText(1024)),
});
