import { Type } from 'typebox';
import {
  Checkbox,
  FormText,
  formBody,
  IdParams,
  QueryInteger,
  QueryCursor,
  QueryText,
  queryString,
  StringEnum,
  Uuid,
} from './common.js';

/** The columns the users table sorts by (the repository maps each to its SQL). */
export const USER_SORT_KEYS = [
  'username',
  'first_name',
  'last_name',
  'realm',
  'organization',
  'email',
  'last_session',
] as const;
export type UserSortKey = (typeof USER_SORT_KEYS)[number];

export const SEARCH_MAX = 200;

/** The users list's status filter: able to log in, Locked, or Disabled. */
export const USER_STATUSES = ['active', 'locked', 'disabled'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

export const UserListQuery = queryString({
  q: Type.Optional(QueryText(SEARCH_MAX)),
  sort: Type.Optional(StringEnum(USER_SORT_KEYS)),
  dir: Type.Optional(StringEnum(['asc', 'desc'])),
  page: Type.Optional(QueryInteger(1, 1_000_000)),
  per_page: Type.Optional(QueryInteger(1, 100)),
  // Filters; '' is "Any" (what the form's first option sends).
  realm: Type.Optional(StringEnum(['', 'local', 'ldap', 'saml', 'oidc'])),
  status: Type.Optional(StringEnum(['', ...USER_STATUSES])),
  group: Type.Optional(Type.Union([Type.Literal(''), Uuid])),
  // Keyset cursors of Next and Previous (base64url of the sort value and id).
  after: Type.Optional(QueryCursor),
  before: Type.Optional(QueryCursor),
});

const text = Type.Optional(FormText(2000));

/** Every field of the user form (docs/rules.md#users); validateUser gives the friendly messages. */
const userFields = {
  username: Type.Optional(FormText(1024)),
  password: Type.Optional(FormText(4096)),
  realm: Type.Optional(FormText(32)),
  notes: Type.Optional(FormText(20_000)),
  first_name: text,
  last_name: text,
  organization: text,
  email: text,
  phone: text,
  city: text,
  state: text,
  country: text,
  custom_attribute_1: text,
  custom_attribute_2: text,
  custom_attribute_3: text,
  locked: Checkbox,
  disabled: Checkbox,
  force_password_reset: Checkbox,
};
export const UserForm = formBody(userFields);

/** The edit form also carries the version it was based on (optimistic locking). */
export const UserEditForm = formBody({ ...userFields, version: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }) });

export const UserParams = IdParams;
export const UserGroupParams = Type.Object({ id: Uuid, groupId: Uuid });
/** `confirm=yes`: the admin confirmed adding the user to a group that grants global_admin. */
export const AddToGroupForm = formBody({ group_id: FormText(64), confirm: Type.Optional(FormText(8)) });
