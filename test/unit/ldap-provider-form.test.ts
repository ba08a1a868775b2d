import { describe, expect, it } from 'vitest';
import type { IdentityProvider } from '../../src/db/schema.js';
import { validateLdapConfig } from '../../src/directories/ldap-config.js';
import {
  ldapFormErrors,
  ldapFormValuesOf,
  ldapProviderInputOf,
  newLdapFormValues,
  typedLdapFormValues,
  withPreset,
} from '../../src/directories/ldap-provider-form.js';

const typed = {
  ...newLdapFormValues('openldap'),
  name: 'Corp',
  urls: 'ldaps://ldap1.corp.example\r\n\r\n ldaps://ldap2.corp.example ',
  bind_dn: 'cn=roster,dc=corp,dc=example',
  user_search_base: 'ou=people,dc=corp,dc=example',
  login_domains: 'Corp.Example, other.example',
  start_tls: false,
};

describe('the LDAP directory form', () => {
  it('becomes a valid configuration: URLs one per line, domains lower case, numbers parsed', () => {
    const input = ldapProviderInputOf(typed, { bindPassword: 'secret', clearPassword: false });
    expect(input.config.urls).toEqual(['ldaps://ldap1.corp.example', 'ldaps://ldap2.corp.example']);
    expect(input.config.loginDomains).toEqual(['corp.example', 'other.example']);
    expect(input.config.connectTimeoutMs).toBe(5000);
    expect(input.sortOrder).toBe(10);
    expect(validateLdapConfig({ ...input.config, bindPassword: 'secret' })).toEqual({});
    expect(input.config).not.toHaveProperty('bindPassword');
  });

  it('reads back what it stored', () => {
    const input = ldapProviderInputOf(typed, { bindPassword: '', clearPassword: false });
    const provider = {
      name: 'Corp',
      sortOrder: 10,
      enabled: false,
      config: input.config,
    } as unknown as IdentityProvider;
    const again = ldapProviderInputOf(ldapFormValuesOf(provider), { bindPassword: '', clearPassword: false });
    expect(again).toEqual(input);
  });

  it('keeps what is not a number as NaN, for the validators to name', () => {
    const input = ldapProviderInputOf(
      { ...typed, operation_timeout_ms: '5 s' },
      { bindPassword: '', clearPassword: false },
    );
    expect(input.config.operationTimeoutMs).toBeNaN();
  });

  it('applies a preset over the typed form, keeping the name, URLs, account, base and domains', () => {
    const ad = withPreset(typed, 'active-directory');
    expect(ad).toMatchObject({
      name: 'Corp',
      urls: typed.urls,
      bind_dn: typed.bind_dn,
      user_search_base: typed.user_search_base,
      login_domains: typed.login_domains,
      attr_immutable_id: 'objectGUID',
      group_source: 'search',
      nested_groups: 'ad-in-chain',
    });
    // OpenLDAP's StartTLS stays off over ldaps:// URLs; it is on for ldap:// ones.
    expect(withPreset(typed, 'openldap').start_tls).toBe(false);
    expect(withPreset({ ...typed, urls: 'ldap://ldap.corp.example' }, 'openldap').start_tls).toBe(true);
  });

  it('takes checkboxes as ticked when present, and a field left out as the default', () => {
    const values = typedLdapFormValues({ name: 'x', start_tls: 'true' });
    expect(values).toMatchObject({ name: 'x', start_tls: true, enabled: false, attr_immutable_id: 'entryUUID' });
  });

  it("puts the commands' messages beside the form's fields", () => {
    expect(
      ldapFormErrors({
        userFilter: 'f',
        'attributes.immutableId': 'i',
        bindPassword: 'p',
        sortOrder: 'o',
        groupSource: 'A group search base is required.',
        kind: 'k',
      }),
    ).toEqual({
      user_filter: 'f',
      attr_immutable_id: 'i',
      bind_password: 'p',
      sort_order: 'o',
      group_search_base: 'A group search base is required.',
      name: 'k',
    });
    expect(ldapFormErrors({ groupSource: 'The group filter must contain {dn} or {username}.' })).toEqual({
      group_search_filter: 'The group filter must contain {dn} or {username}.',
    });
  });
});
