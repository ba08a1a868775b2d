import { describe, expect, it } from 'vitest';
import {
  LDAP_PRESETS,
  directoryForLogin,
  validateLdapConfig,
  type LdapConfig,
} from '../../src/directories/ldap-config.js';
import { fillFilter, guidToString } from '../../src/directories/ldap-directory.js';

const valid: LdapConfig = {
  ...LDAP_PRESETS.openldap,
  urls: ['ldaps://ldap.corp.example'],
  startTls: false,
  caCertificate: null,
  bindDn: 'cn=roster,dc=corp,dc=example',
  bindPassword: 'secret',
  userSearchBase: 'ou=people,dc=corp,dc=example',
  loginDomains: ['corp.example'],
  createUsersAtFirstLogin: false,
  syncIntervalMinutes: 0,
};

describe('validateLdapConfig', () => {
  it('accepts a complete configuration', () => {
    expect(validateLdapConfig(valid)).toEqual({});
  });

  it('refuses plain ldap:// to a remote host unless StartTLS or explicitly allowed', () => {
    const plain = { ...valid, urls: ['ldap://ldap.corp.example'] };
    expect(validateLdapConfig(plain).urls).toMatch(/unencrypted/);
    expect(validateLdapConfig({ ...plain, startTls: true })).toEqual({});
    expect(validateLdapConfig({ ...plain, allowUnencrypted: true })).toEqual({});
    expect(validateLdapConfig({ ...plain, urls: ['ldap://127.0.0.1:3389'] })).toEqual({});
    expect(validateLdapConfig({ ...plain, urls: ['ldap://[::1]'] })).toEqual({});
  });

  it('refuses other schemes, no URL, and StartTLS on ldaps://', () => {
    expect(validateLdapConfig({ ...valid, urls: ['http://x'] }).urls).toBeDefined();
    expect(validateLdapConfig({ ...valid, urls: [] }).urls).toBeDefined();
    expect(validateLdapConfig({ ...valid, startTls: true }).startTls).toBeDefined();
  });

  it('requires {username} in a balanced filter', () => {
    expect(validateLdapConfig({ ...valid, userFilter: '(uid=alice)' }).userFilter).toMatch(/\{username\}/);
    expect(validateLdapConfig({ ...valid, userFilter: '(uid={username}' }).userFilter).toMatch(/parentheses/);
  });

  it('checks the account, base, CA, attributes, group search, domains and timeouts', () => {
    const errors = validateLdapConfig({
      ...valid,
      bindDn: ' ',
      bindPassword: '',
      userSearchBase: '',
      caCertificate: 'not a pem',
      attributes: { ...valid.attributes, email: 'mail;x', immutableId: '' },
      groupSource: { base: 'ou=groups', filter: '(member=x)' },
      loginDomains: ['Corp Example'],
      connectTimeoutMs: 0,
      operationTimeoutMs: 1.5,
    });
    expect(Object.keys(errors).sort()).toEqual(
      [
        'attributes.email',
        'attributes.immutableId',
        'bindDn',
        'bindPassword',
        'caCertificate',
        'connectTimeoutMs',
        'groupSource',
        'loginDomains',
        'operationTimeoutMs',
        'userSearchBase',
      ].sort(),
    );
  });

  it("refuses AD's in-chain rule without a group search", () => {
    expect(validateLdapConfig({ ...valid, nestedGroups: 'ad-in-chain' }).nestedGroups).toBeDefined();
  });

  it('every preset is valid once the admin fills in the site fields', () => {
    for (const [name, preset] of Object.entries(LDAP_PRESETS)) {
      const groupSource =
        preset.groupSource === 'memberOf' ? preset.groupSource : { ...preset.groupSource, base: 'dc=corp,dc=example' };
      const config = { ...valid, ...preset, groupSource, urls: ['ldaps://dir.corp.example'], startTls: false };
      expect(validateLdapConfig(config), name).toEqual({});
    }
  });
});

describe('directoryForLogin', () => {
  const directories = [{ loginDomains: ['corp.example'] }, { loginDomains: ['lab.example', 'LAB2.example'] }];

  it('picks the directory by login domain and strips it', () => {
    expect(directoryForLogin('alice@corp.example', directories)).toEqual({
      kind: 'directory',
      index: 0,
      username: 'alice',
    });
    expect(directoryForLogin(' bob@Lab2.Example ', directories)).toEqual({
      kind: 'directory',
      index: 1,
      username: 'bob',
    });
  });

  it('tries a bare name in order; an unknown domain or a malformed name is no directory', () => {
    expect(directoryForLogin('alice', directories)).toEqual({
      kind: 'try-in-order',
      indexes: [0, 1],
      username: 'alice',
    });
    expect(directoryForLogin('alice@other.example', directories)).toEqual({ kind: 'none' });
    expect(directoryForLogin('@corp.example', directories)).toEqual({ kind: 'none' });
    expect(directoryForLogin('alice@', directories)).toEqual({ kind: 'none' });
    expect(directoryForLogin('  ', directories)).toEqual({ kind: 'none' });
  });
});

describe('fillFilter and guidToString', () => {
  it('escapes every filter metacharacter of the typed value (RFC 4515)', () => {
    expect(fillFilter('(uid={username})', { username: 'a*)(uid=*\\\0' })).toBe('(uid=a\\2a\\29\\28uid=\\2a\\5c\\00)');
    expect(fillFilter('(member={dn})', { dn: 'cn=x,dc=y' })).toBe('(member=cn=x,dc=y)');
  });

  it("renders AD's objectGUID in its canonical form", () => {
    const bytes = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
    expect(guidToString(bytes)).toBe('00112233-4455-6677-8899-aabbccddeeff');
  });
});
