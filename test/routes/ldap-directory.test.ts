import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapConfig } from '../../src/directories/ldap-config.js';
import { authenticate, testConnection } from '../../src/directories/ldap-directory.js';
import {
  GROUPS,
  PASSWORDS,
  PEOPLE,
  skipSlapdTests,
  slapdLdapConfig,
  startSlapd,
  type Slapd,
} from '../helpers/slapd.js';

const TIMEOUT = 1000;

describe.skipIf(skipSlapdTests)('LDAP directory against a real slapd', () => {
  let slapd: Slapd;
  let config: LdapConfig;

  beforeAll(async () => {
    slapd = await startSlapd();
    config = slapdLdapConfig(slapd, { connectTimeoutMs: TIMEOUT, operationTimeoutMs: TIMEOUT });
  }, 30_000);
  afterAll(async () => {
    await slapd?.stop();
  });

  it('search then bind: ok with the immutable id, mapped attributes and nested groups', async () => {
    const result = await authenticate(config, 'alice', PASSWORDS.alice);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.user.dn).toBe(`uid=alice,${PEOPLE}`);
    expect(result.user.immutableId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(result.user.attributes).toEqual({
      username: 'alice',
      email: 'alice@example.test',
      firstName: 'Alice',
      lastName: 'Liddell',
      phone: '+1 555 0100',
      organization: 'Example Corp',
    });
    expect(result.user.groups!.sort()).toEqual([
      `cn=engineers,${GROUPS}`,
      `cn=everyone,${GROUPS}`,
      `cn=staff,${GROUPS}`,
    ]);
  });

  it("without nesting only the direct groups, from the group search or the entry's memberOf", async () => {
    const direct = await authenticate({ ...config, nestedGroups: 'none' }, 'alice', PASSWORDS.alice);
    expect(direct.ok && direct.user.groups).toEqual([`cn=engineers,${GROUPS}`]);
    const memberOf = await authenticate(
      { ...config, groupSource: 'memberOf', nestedGroups: 'none' },
      'alice',
      PASSWORDS.alice,
    );
    expect(memberOf.ok && memberOf.user.groups).toEqual([`cn=engineers,${GROUPS}`]);
  });

  it('answers groups null, not "no groups", when the group search fails', async () => {
    const failing = await testConnection(
      { ...config, groupSource: { base: 'ou=nowhere,dc=example,dc=test', filter: '(member={dn})' } },
      'alice',
    );
    expect(failing.ok && failing.user.groups).toBeNull();
    // A group search that answers, with nothing: no groups.
    const none = await testConnection({ ...config, nestedGroups: 'none' }, 'twin1');
    expect(none.ok && none.user.groups).toEqual([]);
  });

  it('a wrong password is invalid_credentials', async () => {
    const result = await authenticate(config, 'alice', 'wrong-password');
    expect(result).toMatchObject({ ok: false, kind: 'invalid_credentials' });
  });

  it('an empty or whitespace password is refused before any bind (which this directory would accept)', async () => {
    const raw = new Client({ url: slapd.ldapUrl, timeout: TIMEOUT, connectTimeout: TIMEOUT });
    await raw.bind(`uid=alice,${PEOPLE}`, ''); // succeeds anonymously: the guard is what stops it
    await raw.unbind();
    for (const password of ['', ' ', '\t\n']) {
      const result = await authenticate(config, 'alice', password);
      expect(result).toMatchObject({ ok: false, kind: 'refused_empty_password' });
    }
    // Refused before connecting: even an unreachable directory answers the same.
    const unreachable = await authenticate({ ...config, urls: ['ldap://127.0.0.1:1'] }, 'alice', '');
    expect(unreachable).toMatchObject({ ok: false, kind: 'refused_empty_password' });
  });

  it('filter injection finds nothing', async () => {
    for (const name of ['*', 'alice)(uid=*', 'a*', 'alice)(|(uid=*', '*)(objectClass=*']) {
      const result = await authenticate(config, name, PASSWORDS.alice);
      expect(result, name).toMatchObject({ ok: false, kind: 'not_found' });
    }
  });

  it('two entries matching the name are ambiguous', async () => {
    const byMail = { ...config, userFilter: '(&(objectClass=inetOrgPerson)(mail={username}))' };
    expect(await authenticate(byMail, 'twin@example.test', 'twin-pass-1')).toMatchObject({
      ok: false,
      kind: 'ambiguous',
    });
    expect(await testConnection(byMail, 'twin@example.test')).toMatchObject({ ok: false, kind: 'ambiguous' });
  });

  it('ldaps and StartTLS work with the CA and fail as tls without it', async () => {
    const startTls = { ...config, urls: [slapd.ldapUrl], startTls: true };
    expect((await authenticate(startTls, 'bob', PASSWORDS.bob)).ok).toBe(true);
    expect(await authenticate({ ...config, caCertificate: null }, 'bob', PASSWORDS.bob)).toMatchObject({
      ok: false,
      kind: 'tls',
    });
    expect(await authenticate({ ...startTls, caCertificate: null }, 'bob', PASSWORDS.bob)).toMatchObject({
      ok: false,
      kind: 'tls',
    });
  });

  it('plain ldap:// on loopback works', async () => {
    const plain = { ...config, urls: [slapd.ldapUrl], startTls: false, caCertificate: null };
    expect((await authenticate(plain, 'bob', PASSWORDS.bob)).ok).toBe(true);
  });

  it('testConnection shows mapped attributes and groups, and never the bind password', async () => {
    const result = await testConnection(config, 'carol');
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.user.attributes.email).toBe('carol@example.test');
    expect(result.user.groups!.sort()).toEqual([`cn=everyone,${GROUPS}`, `cn=staff,${GROUPS}`]);
    const refused = await testConnection({ ...config, bindPassword: 'not-the-password-xyz' }, 'carol');
    expect(refused.ok).toBe(false);
    expect(JSON.stringify(refused)).not.toContain('not-the-password-xyz');
  });

  it('a renamed entry keeps its immutable id', async () => {
    await slapd.add(`uid=dave,${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid: 'dave',
      cn: 'Dave',
      sn: 'Dave',
      userPassword: 'dave-pass-1',
    });
    const before = await authenticate(config, 'dave', 'dave-pass-1');
    await slapd.rename(`uid=dave,${PEOPLE}`, 'uid=david');
    const after = await authenticate(config, 'david', 'dave-pass-1');
    expect(before.ok && after.ok).toBe(true);
    if (!before.ok || !after.ok) return;
    expect(after.user.dn).toBe(`uid=david,${PEOPLE}`);
    expect(after.user.immutableId).toBe(before.user.immutableId);
    await slapd.remove(`uid=david,${PEOPLE}`);
    expect(await authenticate(config, 'david', 'dave-pass-1')).toMatchObject({ ok: false, kind: 'not_found' });
  });

  it('a paused directory answers unavailable within the timeout', async () => {
    slapd.pause();
    try {
      const started = performance.now();
      const result = await authenticate(config, 'alice', PASSWORDS.alice);
      const elapsed = performance.now() - started;
      expect(result).toMatchObject({ ok: false, kind: 'unavailable' });
      expect(elapsed).toBeLessThan(TIMEOUT * 2 + 500);
    } finally {
      slapd.resume();
    }
    expect((await authenticate(config, 'alice', PASSWORDS.alice)).ok).toBe(true);
  });

  it('a stopped directory answers unavailable fast', async () => {
    await slapd.stop();
    const started = performance.now();
    const result = await authenticate(config, 'alice', PASSWORDS.alice);
    expect(result).toMatchObject({ ok: false, kind: 'unavailable' });
    expect(performance.now() - started).toBeLessThan(TIMEOUT);
  });
});
