import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const REALMS = ['local', 'ldap', 'saml', 'oidc'] as const;
export type Realm = (typeof REALMS)[number];

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

// Optional text fields are NOT NULL DEFAULT '' (as Kasm stores them), so that sorting by them
// needs no NULLS handling and a plain (column, id) index serves both directions.
const optionalText = (name: string) => text(name).notNull().default('');

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    username: text('username').notNull(),
    passwordHash: text('password_hash'),
    firstName: optionalText('first_name'),
    lastName: optionalText('last_name'),
    realm: text('realm').$type<Realm>().notNull().default('local'),
    notes: optionalText('notes'),
    locked: boolean('locked').notNull().default(false),
    disabled: boolean('disabled').notNull().default(false),
    forcePasswordReset: boolean('force_password_reset').notNull().default(false),
    organization: optionalText('organization'),
    lastSession: timestamp('last_session', { withTimezone: true }),
    phone: optionalText('phone'),
    city: optionalText('city'),
    state: optionalText('state'),
    country: optionalText('country'),
    email: optionalText('email'),
    customAttribute1: optionalText('custom_attribute_1'),
    customAttribute2: optionalText('custom_attribute_2'),
    customAttribute3: optionalText('custom_attribute_3'),
    // Login protection: consecutive failures, temporary lockouts since the last success.
    failedLoginCount: integer('failed_login_count').notNull().default(0),
    lockoutCount: integer('lockout_count').notNull().default(0),
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    passwordChangedAt: timestamp('password_changed_at', { withTimezone: true }),
    // Two-factor authentication (TOTP): encrypted secret, last accepted time step (replay guard).
    twoFactorSecret: text('two_factor_secret'),
    twoFactorEnabled: boolean('two_factor_enabled').notNull().default(false),
    twoFactorLastStep: bigint('two_factor_last_step', { mode: 'number' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // Optimistic locking: every update bumps it; an edit carries the version it was based on.
    version: integer('version').notNull().default(1),
    // What the admin search matches: lower-cased, fields separated by a character no search
    // term can contain (control characters are stripped), served by a trigram index.
    searchText: text('search_text').generatedAlwaysAs(
      sql`lower(username || chr(31) || first_name || chr(31) || last_name || chr(31) || email || chr(31) || organization)`,
    ),
  },
  (t) => [
    uniqueIndex('users_username_lower_key').on(sql`lower(${t.username})`),
    index('users_search_trgm_idx').using('gin', t.searchText.op('gin_trgm_ops')),
    index('users_first_name_idx').on(t.firstName, t.id),
    index('users_last_name_idx').on(t.lastName, t.id),
    index('users_realm_idx').on(t.realm, t.id),
    index('users_organization_idx').on(t.organization, t.id),
    index('users_email_idx').on(t.email, t.id),
    // Last Session sorts never-logged-in users last in both directions (see sortExpression).
    index('users_last_session_asc_idx').on(sql`coalesce(${t.lastSession}, 'infinity'::timestamptz)`, t.id),
    index('users_last_session_desc_idx').on(sql`coalesce(${t.lastSession}, '-infinity'::timestamptz)`, t.id),
    check('users_realm_check', sql`${t.realm} in ('local', 'ldap', 'saml', 'oidc')`),
  ],
);

export const groups = pgTable(
  'groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    description: optionalText('description'),
    priority: integer('priority').notNull(),
    isSystem: boolean('is_system').notNull().default(false),
    // Stable handle for the seeded groups ('administrators', 'all_users'), independent of names.
    systemKey: text('system_key').unique(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('groups_name_lower_key').on(sql`lower(${t.name})`),
    uniqueIndex('groups_priority_key').on(t.priority),
    check('groups_priority_check', sql`${t.priority} between 1 and 1000`),
  ],
);

export const groupPermissions = pgTable(
  'group_permissions',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    permission: text('permission').notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.permission] })],
);

/** A setting a group sets (docs/rules.md#settings-and-precedence); a setting the group does not set has no row. */
export const groupSettings = pgTable(
  'group_settings',
  {
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: jsonb('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.key] })],
);

/** A user's own value of a profile setting (docs/rules.md#profile-settings); no row means "use group default". */
export const userSettings = pgTable(
  'user_settings',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    key: text('key').notNull(),
    value: jsonb('value').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.key] })],
);

/** One-time 2FA recovery codes, stored as SHA-256 hashes (the codes are long random strings). */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    codeHash: text('code_hash').notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('recovery_codes_user_hash_key').on(t.userId, t.codeHash)],
);

export const userGroups = pgTable(
  'user_groups',
  {
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    // Who made this membership: null = an admin (or auto-add), by hand; else the identity provider
    // whose SSO group mapping created it. Only a mapping's own memberships are removed by mappings
    // (docs/rules.md#sso-group-mappings). A deleted provider leaves its memberships as manual ones.
    sourceProviderId: uuid('source_provider_id').references(() => identityProviders.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index('user_groups_group_idx').on(t.groupId, t.userId)],
);

export const sessions = pgTable(
  'sessions',
  {
    sid: text('sid').primaryKey(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    data: jsonb('data').notNull(),
    createdAt: createdAt(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    ip: optionalText('ip'),
    userAgent: optionalText('user_agent'),
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_expires_idx').on(t.expiresAt)],
);

/** Bytes, kept exactly (file mapping content). PGlite hands back a Uint8Array, postgres.js a Buffer. */
const bytea = customType<{ data: Buffer; driverData: Uint8Array }>({
  dataType: () => 'bytea',
  fromDriver: (value) =>
    Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength),
});

/** The catalogue of launchable images (docs/rules.md#workspaces-and-the-launch-plan). Settings of type image hold a workspace id. */
export const workspaces = pgTable(
  'workspaces',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    friendlyName: text('friendly_name').notNull(),
    image: text('image').notNull(),
    description: optionalText('description'),
    cores: doublePrecision('cores').notNull().default(2),
    memoryMb: integer('memory_mb').notNull().default(2768),
    enabled: boolean('enabled').notNull().default(true),
    runConfigOverride: jsonb('run_config_override').notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('workspaces_friendly_name_lower_key').on(sql`lower(${t.friendlyName})`)],
);

/**
 * A file placed in a workspace at launch (docs/rules.md#file-mappings-and-their-precedence), owned by exactly one workspace, group or
 * user (deleted with it). One owner maps a destination path once.
 */
export const fileMappings = pgTable(
  'file_mappings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    workspaceId: uuid('workspace_id').references(() => workspaces.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id').references(() => groups.id, { onDelete: 'cascade' }),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    description: optionalText('description'),
    destinationPath: text('destination_path').notNull(),
    content: bytea('content').notNull(),
    size: integer('size').notNull(),
    sha256: text('sha256').notNull(),
    /** The uploaded file's name; '' when the content was typed as text. */
    fileName: optionalText('file_name'),
    writable: boolean('writable').notNull().default(false),
    executable: boolean('executable').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('file_mappings_one_owner', sql`num_nonnulls(${t.workspaceId}, ${t.groupId}, ${t.userId}) = 1`),
    uniqueIndex('file_mappings_workspace_path_key').on(t.workspaceId, t.destinationPath),
    uniqueIndex('file_mappings_group_path_key').on(t.groupId, t.destinationPath),
    uniqueIndex('file_mappings_user_path_key').on(t.userId, t.destinationPath),
  ],
);

/** A recorded launch (a "kasm"): what the container runtime would receive, kept as it was decided. */
export const workspaceSessions = pgTable(
  'workspace_sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    workspaceId: uuid('workspace_id').references(() => workspaces.id, { onDelete: 'set null' }),
    workspaceName: text('workspace_name').notNull(),
    plan: jsonb('plan').notNull(),
    createdAt: createdAt(),
    /** The last keepalive (the API's `keepalive` call); a session starts with one. */
    keepaliveAt: timestamp('keepalive_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('workspace_sessions_user_idx').on(t.userId, t.createdAt)],
);

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
    actorType: text('actor_type').$type<'user' | 'api_key' | 'system' | 'anonymous'>().notNull(),
    actorId: text('actor_id'),
    actorName: optionalText('actor_name'),
    ip: optionalText('ip'),
    action: text('action').notNull(),
    outcome: text('outcome').$type<'success' | 'failure'>().notNull().default('success'),
    targetType: optionalText('target_type'),
    targetId: text('target_id'),
    targetName: optionalText('target_name'),
    /** { changes?: { field: { old, new } }, reason?: string, ... } — never secrets. */
    details: jsonb('details').notNull().default({}),
  },
  // The log is read newest first (occurred_at, id), filtered by action, actor or target, or a
  // time range: each filter has an index in that order, so a page never scans the whole log.
  (t) => [
    index('audit_events_occurred_idx').on(t.occurredAt, t.id),
    index('audit_events_action_idx').on(t.action, t.occurredAt, t.id),
    index('audit_events_actor_idx').on(t.actorId, t.occurredAt),
    index('audit_events_actor_name_idx').on(sql`lower(${t.actorName})`, t.occurredAt, t.id),
    index('audit_events_target_idx').on(t.targetId, t.occurredAt),
    index('audit_events_target_name_idx').on(sql`lower(${t.targetName})`, t.occurredAt, t.id),
  ],
);

/**
 * A Developer API key (docs/rules.md#developer-api). `key` is the public half a script sends; the secret is kept
 * only as its SHA-256 hash (it is 256 random bits, so a fast hash suffices and a call costs a
 * lookup, not an argon2 verify).
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    key: text('api_key').notNull().unique(),
    secretHash: text('secret_hash').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    readOnly: boolean('read_only').notNull().default(false),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    createdById: uuid('created_by_id').references(() => users.id, { onDelete: 'set null' }),
    createdByName: optionalText('created_by_name'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('api_keys_name_lower_key').on(sql`lower(${t.name})`)],
);

/** The permissions an API key holds (the same catalogue as groups'). */
export const apiKeyPermissions = pgTable(
  'api_key_permissions',
  {
    apiKeyId: uuid('api_key_id')
      .notNull()
      .references(() => apiKeys.id, { onDelete: 'cascade' }),
    permission: text('permission').notNull(),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.permission] })],
);

/**
 * A directory or identity provider (docs/rules.md#realms), tried in sort_order. `config` holds the
 * non-secret settings (for `ldap`, an LdapConfig without its bind password); `secret` is the
 * bind password sealed with the server key (SecretBox), never stored or shown in plain text.
 */
export const identityProviders = pgTable(
  'identity_providers',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    kind: text('kind').$type<'ldap' | 'oidc' | 'saml'>().notNull(),
    name: text('name').notNull(),
    enabled: boolean('enabled').notNull().default(false),
    sortOrder: integer('sort_order').notNull().default(0),
    config: jsonb('config').$type<Record<string, unknown>>().notNull().default({}),
    secret: text('secret'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // Optimistic locking, as users and groups: an edit carries the version it was based on.
    version: integer('version').notNull().default(1),
    // The last directory sync: when it ended and its counts (seen, updated, disabled, errors, message).
    lastSyncAt: timestamp('last_sync_at', { withTimezone: true }),
    lastSync: jsonb('last_sync').$type<DirectorySyncReport>(),
  },
  (t) => [
    uniqueIndex('identity_providers_name_lower_key').on(sql`lower(${t.name})`),
    check('identity_providers_kind_check', sql`${t.kind} in ('ldap', 'oidc', 'saml')`),
  ],
);

/** Server-generated secrets (e.g. the session cookie key), created once at first start. */
/** What the last directory sync of a provider did (shown on its page). */
export interface DirectorySyncReport {
  outcome: 'completed' | 'failed';
  seen: number;
  updated: number;
  disabled: number;
  enabled: number;
  errors: number;
  message: string;
}

/**
 * A user's identity at a provider: (provider, subject) is what a login matches on, never a typed
 * name or email (docs/rules.md#realms). The subject is the directory's immutable id (entryUUID,
 * objectGUID) or an IdP's subject.
 */
export const userIdentities = pgTable(
  'user_identities',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    providerId: uuid('provider_id')
      .notNull()
      .references(() => identityProviders.id, { onDelete: 'cascade' }),
    subject: text('subject').notNull(),
    // The entry's DN (LDAP) or the IdP's user name as last seen: for display only, never matched on.
    externalName: text('external_name').notNull().default(''),
    lastSyncAt: timestamp('last_sync_at', { withTimezone: true }),
    // Set when a directory sync disabled the user because the entry was gone; cleared when the
    // entry comes back (so a sync re-enables only whom a sync disabled).
    disabledBySyncAt: timestamp('disabled_by_sync_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('user_identities_provider_subject_key').on(t.providerId, t.subject),
    uniqueIndex('user_identities_user_provider_key').on(t.userId, t.providerId),
  ],
);

/**
 * An SSO group mapping ("SSO Group Mappings", as Kasm names it): users of `providerId` who are in
 * the directory group `groupDn` (or all of its users, when `allUsers`) become members of `groupId`.
 * `matchKey` is the normalized DN ('*' for all users), so one DN is mapped once per group.
 */
export const groupMappings = pgTable(
  'group_mappings',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    groupId: uuid('group_id')
      .notNull()
      .references(() => groups.id, { onDelete: 'cascade' }),
    providerId: uuid('provider_id')
      .notNull()
      .references(() => identityProviders.id, { onDelete: 'cascade' }),
    allUsers: boolean('all_users').notNull().default(false),
    groupDn: text('group_dn').notNull().default(''),
    matchKey: text('match_key').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('group_mappings_group_provider_key').on(t.groupId, t.providerId, t.matchKey),
    index('group_mappings_provider_idx').on(t.providerId),
  ],
);

export const appSecrets = pgTable('app_secrets', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  createdAt: createdAt(),
});

export type IdentityProvider = typeof identityProviders.$inferSelect;
export type UserIdentity = typeof userIdentities.$inferSelect;
export type GroupMapping = typeof groupMappings.$inferSelect;
export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type Group = typeof groups.$inferSelect;
export type Workspace = typeof workspaces.$inferSelect;
export type FileMapping = typeof fileMappings.$inferSelect;
export type WorkspaceSession = typeof workspaceSessions.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
