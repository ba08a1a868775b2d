import { Type } from 'typebox';
import { Checkbox, EmptyForm, FormText, formBody, IdParams, queryString, StringEnum } from './common.js';

// The admin pages of identity providers (docs/rules.md#realms). The friendly per-field messages
// come from validateLdapConfig; these only turn away what no form of Roster sends.

export const ProviderParams = IdParams;

/** The presets of src/directories/ldap-config.ts (LDAP_PRESETS; schemas import nothing of ours). */
export const LDAP_PRESET_NAMES = ['active-directory', 'openldap', 'freeipa', 'lldap'] as const;
const Preset = StringEnum(LDAP_PRESET_NAMES);

/** The new-directory form, filled from a preset. */
export const NewLdapQuery = queryString({ preset: Type.Optional(Preset) });

const Text = Type.Optional(FormText(4096));

/** The directory form; `preset` (its buttons) fills the form again from a preset without saving. */
export const LdapProviderForm = formBody({
  version: Type.Optional(Type.String({ pattern: '^\\d{1,9}$' })),
  preset: Type.Optional(Preset),
  name: Text,
  sort_order: Text,
  enabled: Checkbox,
  urls: Type.Optional(FormText(20_000)),
  start_tls: Checkbox,
  allow_unencrypted: Checkbox,
  ca_certificate: Type.Optional(FormText(64 * 1024)),
  bind_dn: Text,
  bind_password: Text,
  clear_password: Checkbox,
  user_search_base: Text,
  user_search_scope: Text,
  user_filter: Text,
  attr_username: Text,
  attr_email: Text,
  attr_first_name: Text,
  attr_last_name: Text,
  attr_phone: Text,
  attr_organization: Text,
  attr_immutable_id: Text,
  group_source: Text,
  group_search_base: Text,
  group_search_filter: Text,
  nested_groups: Text,
  login_domains: Type.Optional(FormText(20_000)),
  connect_timeout_ms: Text,
  operation_timeout_ms: Text,
  create_users: Checkbox,
  sync_interval_minutes: Text,
});

/** Enable, disable: based on the version the page showed. */
export const ProviderVersionForm = formBody({ version: Type.String({ pattern: '^\\d{1,9}$' }) });

/** Test: the user name to look up. */
export const ProviderTestForm = formBody({ username: Type.Optional(FormText(1024)) });

export { EmptyForm };
