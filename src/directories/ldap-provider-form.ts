// The LDAP directory form (views/admin-auth/_ldap-fields.eta): the stored provider as form text,
// the form text as a command's input, presets applied over what was typed, and the commands'
// per-field messages placed beside the form's fields. Pure: no I/O. The bind password is never
// a form value: the form shows whether one is set, and an empty field keeps it.
import type { IdentityProvider } from '../db/schema.js';
import type { LdapProviderInput } from './identity-providers-commands.js';
import type { StoredLdapConfig } from './identity-providers-queries.js';
import { LDAP_PRESETS, type LdapPresetName, type NestedGroups, type SearchScope } from './ldap-config.js';

export const PRESET_NAMES = Object.keys(LDAP_PRESETS) as LdapPresetName[];
export const PRESET_LABELS: Record<LdapPresetName, string> = {
  'active-directory': 'Active Directory',
  openldap: 'OpenLDAP',
  freeipa: 'FreeIPA',
  lldap: 'lldap',
};

/** Every field of the form as the browser sends it (checkboxes: present when ticked). */
export interface LdapFormValues {
  name: string;
  sort_order: string;
  enabled: boolean;
  urls: string;
  start_tls: boolean;
  allow_unencrypted: boolean;
  ca_certificate: string;
  bind_dn: string;
  user_search_base: string;
  user_search_scope: string;
  user_filter: string;
  attr_username: string;
  attr_email: string;
  attr_first_name: string;
  attr_last_name: string;
  attr_phone: string;
  attr_organization: string;
  attr_immutable_id: string;
  group_source: string;
  group_search_base: string;
  group_search_filter: string;
  nested_groups: string;
  login_domains: string;
  connect_timeout_ms: string;
  operation_timeout_ms: string;
  create_users: boolean;
  sync_interval_minutes: string;
}

/** What the route's schema lets through: text fields, and checkboxes as any string when ticked. */
export type LdapFormBody = Partial<Record<keyof LdapFormValues, string>> & {
  clear_password?: string;
  bind_password?: string;
};

const CHECKBOXES = ['enabled', 'start_tls', 'allow_unencrypted', 'create_users'] as const;

function presetValues(
  preset: LdapPresetName,
): Omit<
  LdapFormValues,
  | 'name'
  | 'sort_order'
  | 'enabled'
  | 'urls'
  | 'ca_certificate'
  | 'bind_dn'
  | 'user_search_base'
  | 'login_domains'
  | 'create_users'
  | 'sync_interval_minutes'
> {
  const p = LDAP_PRESETS[preset];
  return {
    start_tls: p.startTls,
    allow_unencrypted: p.allowUnencrypted,
    user_search_scope: p.userSearchScope,
    user_filter: p.userFilter,
    attr_username: p.attributes.username,
    attr_email: p.attributes.email,
    attr_first_name: p.attributes.firstName,
    attr_last_name: p.attributes.lastName,
    attr_phone: p.attributes.phone,
    attr_organization: p.attributes.organization,
    attr_immutable_id: p.attributes.immutableId,
    group_source: p.groupSource === 'memberOf' ? 'memberOf' : 'search',
    group_search_base: p.groupSource === 'memberOf' ? '' : p.groupSource.base,
    group_search_filter: p.groupSource === 'memberOf' ? '' : p.groupSource.filter,
    nested_groups: p.nestedGroups,
    connect_timeout_ms: String(p.connectTimeoutMs),
    operation_timeout_ms: String(p.operationTimeoutMs),
  };
}

/** A new directory's form: the preset's fields (OpenLDAP's when none is named), the rest empty. */
export function newLdapFormValues(preset: LdapPresetName = 'openldap'): LdapFormValues {
  return {
    name: '',
    sort_order: '10',
    enabled: false,
    urls: '',
    ca_certificate: '',
    bind_dn: '',
    user_search_base: '',
    login_domains: '',
    create_users: false,
    sync_interval_minutes: '0',
    ...presetValues(preset),
  };
}

/**
 * A preset over what the admin already typed: the directory's own facts (name, URLs, CA, service
 * account, search bases, domains, order, sync) stay; the preset's defaults replace the rest.
 * StartTLS stays off when every URL is ldaps:// (already encrypted).
 */
export function withPreset(values: LdapFormValues, preset: LdapPresetName): LdapFormValues {
  const next = { ...values, ...presetValues(preset) };
  const urls = splitLines(values.urls);
  if (urls.length > 0 && urls.every((url) => url.toLowerCase().startsWith('ldaps://'))) next.start_tls = false;
  if (next.group_source === 'search' && !next.group_search_base) next.group_search_base = values.group_search_base;
  return next;
}

/** The stored provider as the form shows it. */
export function ldapFormValuesOf(provider: IdentityProvider): LdapFormValues {
  const c = provider.config as unknown as StoredLdapConfig;
  const search = c.groupSource === 'memberOf' ? null : c.groupSource;
  return {
    name: provider.name,
    sort_order: String(provider.sortOrder),
    enabled: provider.enabled,
    urls: c.urls.join('\n'),
    start_tls: c.startTls,
    allow_unencrypted: c.allowUnencrypted,
    ca_certificate: c.caCertificate ?? '',
    bind_dn: c.bindDn,
    user_search_base: c.userSearchBase,
    user_search_scope: c.userSearchScope,
    user_filter: c.userFilter,
    attr_username: c.attributes.username,
    attr_email: c.attributes.email,
    attr_first_name: c.attributes.firstName,
    attr_last_name: c.attributes.lastName,
    attr_phone: c.attributes.phone,
    attr_organization: c.attributes.organization,
    attr_immutable_id: c.attributes.immutableId,
    group_source: search ? 'search' : 'memberOf',
    group_search_base: search?.base ?? '',
    group_search_filter: search?.filter ?? '',
    nested_groups: c.nestedGroups,
    login_domains: c.loginDomains.join('\n'),
    connect_timeout_ms: String(c.connectTimeoutMs),
    operation_timeout_ms: String(c.operationTimeoutMs),
    create_users: c.createUsersAtFirstLogin,
    sync_interval_minutes: String(c.syncIntervalMinutes),
  };
}

/**
 * The form as typed, to show again (the password never among them). A browser sends every field;
 * a field left out (a script's post) is a new form's default, a checkbox left out is unticked.
 */
export function typedLdapFormValues(body: LdapFormBody): LdapFormValues {
  const values = { ...newLdapFormValues() } as Record<string, unknown>;
  for (const key of Object.keys(values) as (keyof LdapFormValues)[]) {
    if ((CHECKBOXES as readonly string[]).includes(key)) values[key] = body[key] !== undefined;
    else if (body[key] !== undefined) values[key] = body[key];
  }
  return values as unknown as LdapFormValues;
}

function splitLines(text: string): string[] {
  return text
    .split(/[\r\n]+/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** "" is the fallback; anything else must be digits (else NaN, which the validators name). */
function whole(text: string, fallback: number): number {
  const trimmed = text.trim();
  if (trimmed === '') return fallback;
  return /^\d{1,9}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** The command's input from the form's values; the commands validate it (validateLdapConfig). */
export function ldapProviderInputOf(
  values: LdapFormValues,
  password: { bindPassword: string; clearPassword: boolean },
): LdapProviderInput {
  const config: StoredLdapConfig = {
    urls: splitLines(values.urls),
    startTls: values.start_tls,
    allowUnencrypted: values.allow_unencrypted,
    caCertificate: values.ca_certificate.trim() === '' ? null : values.ca_certificate.trim(),
    bindDn: values.bind_dn.trim(),
    userSearchBase: values.user_search_base.trim(),
    userSearchScope: values.user_search_scope as SearchScope,
    userFilter: values.user_filter.trim(),
    attributes: {
      username: values.attr_username.trim(),
      email: values.attr_email.trim(),
      firstName: values.attr_first_name.trim(),
      lastName: values.attr_last_name.trim(),
      phone: values.attr_phone.trim(),
      organization: values.attr_organization.trim(),
      immutableId: values.attr_immutable_id.trim(),
    },
    groupSource:
      values.group_source === 'search'
        ? { base: values.group_search_base.trim(), filter: values.group_search_filter.trim() }
        : 'memberOf',
    nestedGroups: values.nested_groups as NestedGroups,
    loginDomains: splitLines(values.login_domains.replace(/,/g, '\n')).map((domain) => domain.toLowerCase()),
    connectTimeoutMs: whole(values.connect_timeout_ms, 5000),
    operationTimeoutMs: whole(values.operation_timeout_ms, 5000),
    createUsersAtFirstLogin: values.create_users,
    syncIntervalMinutes: whole(values.sync_interval_minutes, 0),
  };
  return {
    name: values.name.trim(),
    sortOrder: whole(values.sort_order, 0),
    config,
    bindPassword: password.bindPassword,
    clearPassword: password.clearPassword,
  };
}

/** The commands' field names (LdapConfig keys, attributes.x, sortOrder) → the form's. */
const FORM_FIELD: Record<string, keyof LdapFormValues | 'bind_password'> = {
  name: 'name',
  sortOrder: 'sort_order',
  urls: 'urls',
  startTls: 'start_tls',
  allowUnencrypted: 'allow_unencrypted',
  caCertificate: 'ca_certificate',
  bindDn: 'bind_dn',
  bindPassword: 'bind_password',
  userSearchBase: 'user_search_base',
  userSearchScope: 'user_search_scope',
  userFilter: 'user_filter',
  'attributes.username': 'attr_username',
  'attributes.email': 'attr_email',
  'attributes.firstName': 'attr_first_name',
  'attributes.lastName': 'attr_last_name',
  'attributes.phone': 'attr_phone',
  'attributes.organization': 'attr_organization',
  'attributes.immutableId': 'attr_immutable_id',
  nestedGroups: 'nested_groups',
  loginDomains: 'login_domains',
  connectTimeoutMs: 'connect_timeout_ms',
  operationTimeoutMs: 'operation_timeout_ms',
  syncIntervalMinutes: 'sync_interval_minutes',
};

/** The commands' per-field messages, each beside its form field; one with no field goes beside the Name. */
export function ldapFormErrors(fields: Record<string, string>): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const [field, message] of Object.entries(fields)) {
    if (field === 'groupSource') {
      errors[/base/.test(message) ? 'group_search_base' : 'group_search_filter'] = message;
      continue;
    }
    errors[FORM_FIELD[field] ?? 'name'] = message;
  }
  return errors;
}
