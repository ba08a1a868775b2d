import { Type } from 'typebox';
import {
  Checkbox,
  EmptyForm,
  FormText,
  formBody,
  IdParams,
  QueryInteger,
  QueryCursor,
  QueryText,
  queryString,
  SettingKey,
  StringEnum,
  Uuid,
} from './common.js';
import { SEARCH_MAX } from './users.js';

/** The columns the groups table sorts by (the service maps each to its SQL). */
export const GROUP_SORT_KEYS = ['name', 'priority', 'description', 'members'] as const;
export type GroupSortKey = (typeof GROUP_SORT_KEYS)[number];

export const GroupListQuery = queryString({
  sort: Type.Optional(StringEnum(GROUP_SORT_KEYS)),
  dir: Type.Optional(StringEnum(['asc', 'desc'])),
});

export const GroupParams = IdParams;
export const GroupMemberParams = Type.Object({ id: Uuid, userId: Uuid });
export const GroupSettingParams = Type.Object({ id: Uuid, key: SettingKey });

/** Name, Description, Priority: validateGroup gives the friendly messages. */
export const GroupForm = formBody({
  name: Type.Optional(FormText(1024)),
  description: Type.Optional(FormText(20_000)),
  priority: Type.Optional(FormText(32)),
});

export const GroupShowQuery = queryString({
  user_q: Type.Optional(QueryText(SEARCH_MAX)),
  members_page: Type.Optional(QueryInteger(1, 100_000)),
  members_after: Type.Optional(QueryCursor),
  members_before: Type.Optional(QueryCursor),
});

export const MemberSuggestionsQuery = queryString({ user_q: Type.Optional(QueryText(SEARCH_MAX)) });
/** `confirm=yes`: the admin confirmed adding a member to a group that grants global_admin. */
export const AddMemberForm = formBody({ user_id: Type.Optional(FormText(64)), confirm: Type.Optional(FormText(8)) });

export const SettingEditQuery = queryString({ key: Type.Optional(QueryText(64)) });
/** A setting's value as typed: JSON settings are parsed (with a depth limit) by the catalogue. */
export const SettingForm = formBody({ key: FormText(64), value: Type.Optional(FormText(200_000)) });

/** Ticked permission checkboxes: one string or several (a lone value becomes a list). */
export const PermissionsForm = formBody({ permission: Type.Optional(Type.Array(FormText(64), { maxItems: 64 })) });

export const GroupMappingParams = Type.Object({ id: Uuid, groupMappingId: Uuid });
/** Add SSO Group Mapping: a provider, All users of it or the group DNs (one per line, up to 100 of 1,024 characters). */
export const GroupMappingForm = formBody({
  provider_id: Type.Optional(FormText(64)),
  all_users: Checkbox,
  group_dns: Type.Optional(FormText(110_000)),
});

export { EmptyForm };
