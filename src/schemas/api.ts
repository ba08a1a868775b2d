// Bodies of the Developer API calls (docs/rules.md#developer-api), as Kasm's clients send them: the key and secret
// beside the call's arguments, the target wrapped in target_user / target_group /
// target_user_attributes. Fields a call does not know are dropped; the key may also come as
// HTTP Basic, so it is optional here.
import { Type, type TProperties } from 'typebox';
import { StringEnum } from './common.js';

/** A user, group, image or session id: a UUID with or without dashes (Kasm writes them without). */
export const KasmId = Type.String({
  pattern: '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$',
  description: 'A UUID, with or without dashes.',
});

const Text = (maxLength: number, description?: string) =>
  Type.String({ maxLength, ...(description ? { description } : {}) });
const Flag = (description?: string) => Type.Boolean(description ? { description } : {});

/** A call's body: the credentials (unless sent as HTTP Basic) and the call's own arguments. */
export const apiBody = <P extends TProperties>(properties: P) =>
  Type.Object(
    {
      api_key: Type.Optional(Text(256, 'The API key (or send HTTP Basic key:secret).')),
      api_key_secret: Type.Optional(Text(256, 'The API key secret.')),
      ...properties,
    },
    { additionalProperties: false },
  );

const object = <P extends TProperties>(properties: P, required: boolean, description: string) => {
  const schema = Type.Object(properties, { additionalProperties: false, description });
  return required ? schema : Type.Optional(schema);
};

/** The fields of a user that create_user and update_user set (docs/rules.md#users). */
const userFields = {
  username: Type.Optional(Text(1024, 'Unique, compared ignoring case.')),
  password: Type.Optional(
    Text(
      1024,
      'Local users only: required for a local user who has none yet (a new user is local unless realm says otherwise); checked against the password policy.',
    ),
  ),
  realm: Type.Optional(StringEnum(['local', 'ldap', 'saml', 'oidc'])),
  first_name: Type.Optional(Text(1024)),
  last_name: Type.Optional(Text(1024)),
  organization: Type.Optional(Text(1024)),
  email: Type.Optional(Text(1024)),
  phone: Type.Optional(Text(1024)),
  city: Type.Optional(Text(1024)),
  state: Type.Optional(Text(1024)),
  country: Type.Optional(Text(1024)),
  notes: Type.Optional(Text(20_000)),
  custom_attribute_1: Type.Optional(Text(4096)),
  custom_attribute_2: Type.Optional(Text(4096)),
  custom_attribute_3: Type.Optional(Text(4096)),
  locked: Type.Optional(Flag()),
  disabled: Type.Optional(Flag()),
  force_password_reset: Type.Optional(Flag('Local users only.')),
};

const userRef = { user_id: Type.Optional(KasmId), username: Type.Optional(Text(1024)) };
const paging = {
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Roster only: the page to answer (with page_size).' }),
  ),
  page_size: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1000, description: 'Roster only: users per page (1–1000).' }),
  ),
};

// A new user needs a name: required here, so the schema (and the reference made from it) says so.
export const CreateUserBody = apiBody({
  target_user: object(
    { ...userFields, username: Text(1024, 'Unique, compared ignoring case.') },
    true,
    'The new user.',
  ),
});
export const TargetUserBody = apiBody({ target_user: object(userRef, true, 'The user, by user_id or username.') });
export const GetUsersBody = apiBody(paging);
export const UpdateUserBody = apiBody({
  target_user: object({ ...userFields, user_id: KasmId }, true, 'The user (user_id) and the fields to change.'),
});
export const DeleteUserBody = apiBody({
  target_user: object(userRef, true, 'The user, by user_id or username.'),
  force: Type.Optional(Flag('Delete even when the user has workspace sessions (they end).')),
});

/**
 * A user's own settings, as Kasm names its user attributes; null clears one (group default).
 * Written as a type list, not anyOf: with coercion on, ajv would turn null into false in a
 * boolean branch, while a value already of a listed type is left alone.
 */
const attributeValue = (type: 'string' | 'boolean', description: string) =>
  Type.Optional(
    Type.Unsafe<string | boolean | null>({
      type: [type, 'null'],
      ...(type === 'string' ? { maxLength: 4096 } : {}),
      description,
    }),
  );
export const UpdateUserAttributesBody = apiBody({
  target_user_attributes: object(
    {
      user_id: KasmId,
      ssh_public_key: attributeValue('string', 'One OpenSSH public key line.'),
      show_tips: attributeValue('boolean', 'Show Tips During Session.'),
      theme: attributeValue('string', 'Auto, Light or Dark.'),
      preferred_language: attributeValue('string', 'A BCP 47 tag such as en-US.'),
      preferred_timezone: attributeValue('string', 'An IANA time zone such as Europe/Berlin.'),
      toggle_control_panel: attributeValue('boolean', 'Toggle Control Panel.'),
      chat_sfx: attributeValue('boolean', 'Chat Sound Effects.'),
      default_image: attributeValue('string', 'The image_id of an enabled workspace.'),
      auto_login_kasm: attributeValue('boolean', 'Auto Launch Session.'),
    },
    true,
    'The user (user_id) and the attributes to set.',
  ),
});

const groupRef = object({ group_id: KasmId }, true, 'The group, by group_id.');
export const UserGroupBody = apiBody({
  target_user: object(userRef, true, 'The user, by user_id or username.'),
  target_group: groupRef,
});
export const EmptyApiBody = apiBody({});
export const GetGroupBody = apiBody({
  target_group: groupRef,
  page: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'The page of members (25 per page).' }),
  ),
});
export const GroupMappingsBody = apiBody({ target_group: groupRef });
export const AddGroupMappingBody = apiBody({
  target_group: groupRef,
  target_group_mapping: object(
    {
      provider_id: KasmId,
      all_users: Type.Optional(Flag('Map every user of the provider (group_dn is then ignored).')),
      group_dn: Type.Optional(
        Text(
          1024,
          'Required unless all_users: the DN of a directory group, compared ignoring case and the spacing around , and =.',
        ),
      ),
    },
    true,
    'The identity provider (provider_id) and what to map: all_users, or one group_dn.',
  ),
});
export const DeleteGroupMappingBody = apiBody({
  target_group_mapping: object({ group_mapping_id: KasmId }, true, 'The mapping, by group_mapping_id.'),
});

export const RequestKasmBody = apiBody({
  user_id: KasmId,
  image_id: Type.Optional(KasmId),
});
export const KasmBody = apiBody({ kasm_id: KasmId, user_id: Type.Optional(KasmId) });
