// What the Developer API answers (docs/rules.md#developer-api), per call and status, in Kasm's
// shapes (see api/kasm-shapes.ts): the OpenAPI document describes them, and Fastify serializes
// each answer by them. Serializing drops a key a schema does not list, so every shape lists every
// key it carries (additionalProperties: false, which the tests check against the real answers).
import { Type, type TProperties, type TSchema } from 'typebox';

/** A value or null, as a JSON Schema type list (not anyOf: one branch, fast to serialize). */
const Nullable = <T>(type: 'string' | 'boolean' | 'integer' | 'number', extra: Record<string, unknown> = {}) =>
  Type.Unsafe<T | null>({ type: [type, 'null'], ...extra });

const closed = <P extends TProperties>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: false, ...(description ? { description } : {}) });

/** A Kasm id: 32 hex digits, no dashes. */
const KasmIdOut = Type.String({ pattern: '^[0-9a-f]{32}$', description: 'A UUID without dashes.' });
const Time = Type.String({ format: 'date-time' });
const TimeOrNull = Nullable<string>('string', { format: 'date-time' });

/** Every failure: a 4xx (or 500) status with Kasm's one-line message. */
export const ApiErrorAnswer = closed({ error_message: Type.String() }, 'The call failed: why, in one line.');

/** An answer without content ({}). */
export const EmptyAnswer = closed({});

export const KasmSessionShape = closed(
  {
    kasm_id: KasmIdOut,
    user_id: KasmIdOut,
    image_id: Nullable<string>('string', { pattern: '^[0-9a-f]{32}$' }),
    friendly_name: Type.String(),
    operational_status: Type.String(),
    start_date: TimeOrNull,
    created_date: TimeOrNull,
    keepalive_date: TimeOrNull,
    expiration_date: TimeOrNull,
    kasm_url: Type.String(),
  },
  'A workspace session (a "kasm").',
);

export const KasmUserShape = closed(
  {
    user_id: KasmIdOut,
    username: Type.String(),
    first_name: Type.String(),
    last_name: Type.String(),
    phone: Type.String(),
    email: Type.String(),
    organization: Type.String(),
    realm: Type.String(),
    city: Type.String(),
    state: Type.String(),
    country: Type.String(),
    notes: Type.String(),
    locked: Type.Boolean(),
    disabled: Type.Boolean(),
    two_factor: Type.Boolean(),
    created: TimeOrNull,
    password_set_date: TimeOrNull,
    last_session: TimeOrNull,
    groups: Type.Array(closed({ group_id: KasmIdOut, name: Type.String() })),
    kasms: Type.Array(KasmSessionShape),
  },
  'A user with their groups and workspace sessions.',
);

export const KasmImageShape = closed(
  {
    image_id: KasmIdOut,
    friendly_name: Type.String(),
    name: Type.String(),
    description: Type.String(),
    cores: Type.Number(),
    memory: Type.Integer({ description: 'Bytes, as Kasm counts them.' }),
    memory_mb: Type.Integer(),
    enabled: Type.Boolean(),
  },
  'A workspace (Kasm: an image).',
);

/** The user's own settings as Kasm's user attributes (USER_SETTINGS' keys); null: the groups' default. */
const flag = Nullable<boolean>('boolean');
const text = Nullable<string>('string');
export const UserAttributesShape = closed(
  {
    user_attributes_id: KasmIdOut,
    user_id: KasmIdOut,
    auto_login_kasm: flag,
    chat_sfx: flag,
    default_image: text,
    show_tips: flag,
    toggle_control_panel: flag,
    theme: text,
    preferred_language: text,
    preferred_timezone: text,
    ssh_public_key: text,
  },
  "The user's own settings; null where the groups' default applies.",
);

const GroupSummary = closed({
  group_id: KasmIdOut,
  name: Type.String(),
  priority: Type.Integer(),
  is_system: Type.Boolean(),
});

const GroupWithMembers = closed({
  group_id: KasmIdOut,
  name: Type.String(),
  description: Type.String(),
  priority: Type.Integer(),
  is_system: Type.Boolean(),
  member_count: Type.Integer(),
  page: Type.Integer(),
  pages: Type.Integer(),
  users: Type.Array(
    closed({ user_id: KasmIdOut, username: Type.String(), first_name: Type.String(), last_name: Type.String() }),
  ),
});

const UserAnswer = closed({ user: KasmUserShape });
/** A user's identity at an identity provider (Roster's own field of get_user). */
const IdentityShape = closed({
  provider_id: KasmIdOut,
  provider_name: Type.String(),
  kind: Type.String(),
  subject: Type.String({ description: "The provider's immutable id of the user (entryUUID, objectGUID)." }),
  external_name: Type.String({ description: 'The entry DN, as last seen.' }),
  last_sync_at: TimeOrNull,
});
const UserWithIdentitiesAnswer = closed({
  user: closed({ ...KasmUserShape.properties, identities: Type.Array(IdentityShape) }),
});

/** One identity provider as get_auth_providers answers it: never its configuration or secret. */
const AuthProviderShape = closed({
  provider_id: KasmIdOut,
  kind: Type.Unsafe<'ldap' | 'oidc' | 'saml'>({ type: 'string', enum: ['ldap', 'oidc', 'saml'] }),
  name: Type.String(),
  enabled: Type.Boolean(),
  order: Type.Integer(),
  last_sync_at: TimeOrNull,
  last_sync: Type.Union([
    closed({
      outcome: Type.Unsafe<'completed' | 'failed'>({ type: 'string', enum: ['completed', 'failed'] }),
      seen: Type.Integer(),
      updated: Type.Integer(),
      disabled: Type.Integer(),
      enabled: Type.Integer(),
      errors: Type.Integer(),
      message: Type.String(),
    }),
    Type.Null(),
  ]),
});

export const GroupMappingShape = closed(
  {
    group_mapping_id: KasmIdOut,
    group_id: KasmIdOut,
    provider_id: KasmIdOut,
    provider_name: Type.String(),
    all_users: Type.Boolean(),
    group_dn: Type.String({ description: 'Empty for all users.' }),
  },
  'An SSO group mapping: users of provider_id (all of them, or those in group_dn) are members of group_id.',
);

/**
 * Each call's 200 answer and the error statuses of its own (beyond those every call may answer).
 * get_users streams every user: its schema documents the stream, which Fastify sends unchanged.
 */
export const API_ANSWERS: Readonly<Record<string, { ok: TSchema; errors: readonly number[] }>> = {
  create_user: { ok: UserAnswer, errors: [403, 404, 409] },
  get_user: { ok: UserWithIdentitiesAnswer, errors: [404] },
  get_users: { ok: closed({ users: Type.Array(KasmUserShape) }), errors: [] },
  update_user: { ok: UserAnswer, errors: [403, 404, 409] },
  delete_user: { ok: EmptyAnswer, errors: [403, 404, 409] },
  logout_user: { ok: EmptyAnswer, errors: [403, 404] },
  get_attributes: { ok: closed({ user_attributes: UserAttributesShape }), errors: [404] },
  update_user_attributes: { ok: EmptyAnswer, errors: [403, 404] },
  add_user_group: { ok: EmptyAnswer, errors: [403, 404, 409] },
  remove_user_group: { ok: EmptyAnswer, errors: [403, 404, 409] },
  get_groups: { ok: closed({ groups: Type.Array(GroupSummary) }), errors: [] },
  get_group: { ok: closed({ group: GroupWithMembers }), errors: [404] },
  get_group_mappings: { ok: closed({ group_mappings: Type.Array(GroupMappingShape) }), errors: [404] },
  add_group_mapping: { ok: closed({ group_mapping: GroupMappingShape }), errors: [403, 404, 409] },
  delete_group_mapping: { ok: EmptyAnswer, errors: [403, 404] },
  get_images: { ok: closed({ images: Type.Array(KasmImageShape) }), errors: [] },
  get_auth_providers: { ok: closed({ auth_providers: Type.Array(AuthProviderShape) }), errors: [] },
  request_kasm: {
    ok: closed({
      kasm_id: KasmIdOut,
      status: Type.String(),
      user_id: KasmIdOut,
      username: Type.String(),
      kasm_url: Type.String(),
    }),
    errors: [403, 404, 409],
  },
  get_kasm_status: {
    ok: closed({ kasm: KasmSessionShape, operational_status: Type.String(), current_time: Time }),
    errors: [404],
  },
  get_kasms: { ok: closed({ kasms: Type.Array(KasmSessionShape), current_time: Time }), errors: [] },
  destroy_kasm: { ok: EmptyAnswer, errors: [403, 404] },
  keepalive: { ok: closed({ usage_reached: Type.Boolean() }), errors: [403, 404] },
};

/**
 * What any call may answer before or beside its own: a bad body or plain HTTP (400), no or a
 * wrong key (401), a read-only key or a missing permission (403), a body too large (413), not
 * JSON (415), too many calls (429), a fault of ours (500).
 */
export const API_COMMON_ERRORS = [400, 401, 403, 413, 415, 429, 500] as const;

/** A route's `response` option: the call's 200 and every error status it answers, each described. */
export function apiResponseSchemas(ok: TSchema, errors: readonly number[]): Record<number, TSchema> {
  const statuses = [...new Set([...API_COMMON_ERRORS, ...errors])].sort((a, b) => a - b);
  return { 200: ok, ...Object.fromEntries(statuses.map((status) => [status, ApiErrorAnswer])) };
}

/** GET /healthz: the database answered, or did not (503). */
export const HealthResponses = {
  200: closed({ status: Type.Literal('ok'), database: Type.Literal('ok') }, 'The app and its database answer.'),
  503: closed(
    { status: Type.Literal('error'), database: Type.Literal('unreachable') },
    'The database does not answer.',
  ),
};

/** GET /api/public/openapi.json: the OpenAPI document itself (open: it describes every call). */
export const OpenApiDocument = Type.Object(
  { openapi: Type.String(), info: Type.Unknown(), paths: Type.Unknown(), components: Type.Unknown() },
  { additionalProperties: true, description: 'The OpenAPI 3.1 document of the Developer API.' },
);
