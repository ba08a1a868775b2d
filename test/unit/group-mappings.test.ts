// docs/rules.md#sso-group-mappings: how a DN is compared, which groups a user maps to, and what
// recomputing their mapped memberships changes, as pure functions.
import { describe, expect, it } from 'vitest';
import { mappedGroupIds, matchKeyOf, membershipChanges, normalizeDn } from '../../src/groups/group-mappings.js';

describe('normalizeDn', () => {
  it('lower-cases and drops the spacing around commas and equals signs', () => {
    for (const [raw, normalized] of [
      ['CN=Admins,OU=Groups,DC=Corp,DC=Example', 'cn=admins,ou=groups,dc=corp,dc=example'],
      ['cn=admins, ou=groups, dc=corp', 'cn=admins,ou=groups,dc=corp'],
      ['cn = admins ,  ou = groups', 'cn=admins,ou=groups'],
      ['  cn=admins,ou=groups  ', 'cn=admins,ou=groups'],
      ['cn=admins\t,\tou=groups', 'cn=admins,ou=groups'],
      ['CN=Ärzte,O=Klinik', 'cn=ärzte,o=klinik'],
    ]) {
      expect(normalizeDn(raw!), raw).toBe(normalized);
    }
  });

  it('keeps the spacing inside a value', () => {
    expect(normalizeDn('CN=Domain Admins, OU=IT  Staff')).toBe('cn=domain admins,ou=it  staff');
  });

  it('keeps escaped characters, which belong to the value, and the spacing beside them', () => {
    expect(normalizeDn('CN=Doe\\, John , OU=People')).toBe('cn=doe\\, john,ou=people');
    expect(normalizeDn('cn=a\\=b,ou=x')).toBe('cn=a\\=b,ou=x');
    // An escaped trailing space is part of the value; the unescaped one after it is not.
    expect(normalizeDn('cn=padded\\  ,ou=x')).toBe('cn=padded\\ ,ou=x');
    expect(normalizeDn('cn=\\ lead,ou=x')).toBe('cn=\\ lead,ou=x');
    expect(normalizeDn('CN=Hex\\2C Escaped')).toBe('cn=hex\\2c escaped');
    expect(normalizeDn('cn=back\\\\,ou=x')).toBe('cn=back\\\\,ou=x');
  });

  it('does not make different groups equal', () => {
    expect(normalizeDn('cn=a b,ou=x')).not.toBe(normalizeDn('cn=ab,ou=x'));
    expect(normalizeDn('cn=a\\,b,ou=x')).not.toBe(normalizeDn('cn=a,b,ou=x'));
  });

  it('is idempotent', () => {
    for (const dn of ['CN=Doe\\, John , OU=People', ' cn = x , dc = y ', 'cn=padded\\  ,ou=x', ''])
      expect(normalizeDn(normalizeDn(dn))).toBe(normalizeDn(dn));
  });

  it('leaves a lone trailing backslash as text', () => {
    expect(normalizeDn('cn=odd\\')).toBe('cn=odd\\');
  });
});

describe('matchKeyOf', () => {
  it("is '*' for all users, whatever the DN says", () => {
    expect(matchKeyOf({ allUsers: true, groupDn: '' })).toBe('*');
    expect(matchKeyOf({ allUsers: true, groupDn: 'cn=x' })).toBe('*');
  });
  it('is the normalized DN otherwise', () => {
    expect(matchKeyOf({ allUsers: false, groupDn: 'CN=Admins, DC=Corp' })).toBe('cn=admins,dc=corp');
  });
});

describe('mappedGroupIds', () => {
  const mappings = [
    { groupId: 'everyone', allUsers: true, matchKey: '*' },
    { groupId: 'admins', allUsers: false, matchKey: 'cn=admins,ou=groups,dc=corp' },
    { groupId: 'devs', allUsers: false, matchKey: 'cn=devs,ou=groups,dc=corp' },
    { groupId: 'devs', allUsers: false, matchKey: 'cn=contractors,ou=groups,dc=corp' },
  ];

  it("matches the user's DNs ignoring case and spacing", () => {
    expect(mappedGroupIds(mappings, ['CN=Admins, OU=Groups, DC=Corp'])).toEqual(new Set(['everyone', 'admins']));
  });

  it('an all-users mapping matches a user in no directory group at all', () => {
    expect(mappedGroupIds(mappings, [])).toEqual(new Set(['everyone']));
  });

  it('a group mapped by two DNs is wanted once, by either', () => {
    expect(mappedGroupIds(mappings, ['cn=contractors,ou=groups,dc=corp'])).toEqual(new Set(['everyone', 'devs']));
    expect(
      mappedGroupIds(mappings, ['cn=devs,ou=groups,dc=corp', 'cn=contractors,ou=groups,dc=corp', 'cn=other']),
    ).toEqual(new Set(['everyone', 'devs']));
  });

  it('no mappings, no groups', () => {
    expect(mappedGroupIds([], ['cn=admins,ou=groups,dc=corp'])).toEqual(new Set());
  });

  it('a DN that only looks alike does not match', () => {
    expect(mappedGroupIds(mappings.slice(1), ['cn=admins,ou=groups', 'cn=admins2,ou=groups,dc=corp'])).toEqual(
      new Set(),
    );
  });
});

describe('membershipChanges', () => {
  const P = 'provider-1';
  const OTHER = 'provider-2';

  it('adds the wanted groups the user is not in', () => {
    expect(membershipChanges([], new Set(['b', 'a']), P)).toEqual({ add: ['a', 'b'], remove: [] });
  });

  it("removes only this provider's memberships that are no longer wanted", () => {
    const current = [
      { groupId: 'mapped-gone', sourceProviderId: P },
      { groupId: 'mapped-kept', sourceProviderId: P },
      { groupId: 'manual', sourceProviderId: null },
      { groupId: 'other-provider', sourceProviderId: OTHER },
    ];
    expect(membershipChanges(current, new Set(['mapped-kept']), P)).toEqual({ add: [], remove: ['mapped-gone'] });
  });

  it('never removes a manual membership, nor adds a second one where it stands', () => {
    const current = [{ groupId: 'g', sourceProviderId: null }];
    expect(membershipChanges(current, new Set(), P)).toEqual({ add: [], remove: [] });
    expect(membershipChanges(current, new Set(['g']), P)).toEqual({ add: [], remove: [] });
  });

  it("leaves another provider's membership alone, wanted or not", () => {
    const current = [{ groupId: 'g', sourceProviderId: OTHER }];
    expect(membershipChanges(current, new Set(), P)).toEqual({ add: [], remove: [] });
    expect(membershipChanges(current, new Set(['g']), P)).toEqual({ add: [], remove: [] });
  });

  it('wanting nothing removes every membership the provider made, and nothing else', () => {
    const current = [
      { groupId: 'a', sourceProviderId: P },
      { groupId: 'b', sourceProviderId: P },
      { groupId: 'c', sourceProviderId: null },
    ];
    expect(membershipChanges(current, new Set(), P)).toEqual({ add: [], remove: ['a', 'b'] });
  });

  it('adds and removes in one go, sorted', () => {
    const current = [
      { groupId: 'z-old', sourceProviderId: P },
      { groupId: 'a-old', sourceProviderId: P },
    ];
    expect(membershipChanges(current, new Set(['y-new', 'b-new']), P)).toEqual({
      add: ['b-new', 'y-new'],
      remove: ['a-old', 'z-old'],
    });
  });
});
