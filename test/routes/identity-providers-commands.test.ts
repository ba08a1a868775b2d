// The identity provider commands called directly on a database (no HTTP): each answers one
// Result, audits its success and its refusals, never lets the bind password reach the audit
// log or the stored config, and changes nothing when refused.
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, identityProviders } from '../../src/db/schema.js';
import {
  createLdapProvider,
  deleteProvider,
  setProviderEnabled,
  updateLdapProvider,
  type LdapProviderInput,
} from '../../src/directories/identity-providers-commands.js';
import {
  enabledLdapDirectories,
  findIdentityProvider,
  listIdentityProviders,
} from '../../src/directories/identity-providers-queries.js';
import { LDAP_PRESETS } from '../../src/directories/ldap-config.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/security/actor.js';
import type { Permission } from '../../src/security/permissions.js';
import type { SecretBox } from '../../src/security/secret-box.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let box: SecretBox;
beforeAll(async () => {
  t = await createTestApp();
  box = t.app.secretBox;
});
afterAll(async () => t.close());

const PASSWORD = 'bind-pa55word-never-logged';
const NEW_PASSWORD = 'second-bind-secret-value';

const input = (name: string, extra: Partial<LdapProviderInput> = {}): LdapProviderInput => ({
  name,
  sortOrder: 10,
  config: {
    ...LDAP_PRESETS.openldap,
    urls: ['ldap://ldap.corp.example'],
    bindDn: 'cn=roster,dc=corp,dc=example',
    userSearchBase: 'ou=people,dc=corp,dc=example',
    loginDomains: ['corp.example'],
    caCertificate: null,
    createUsersAtFirstLogin: false,
    syncIntervalMinutes: 0,
  },
  bindPassword: PASSWORD,
  ...extra,
});

const viewer: Actor = {
  type: 'user',
  id: '00000000-0000-4000-8000-000000000002',
  name: 'viewer',
  ip: '127.0.0.1',
  permissions: new Set<Permission>(['auth_view', 'users_modify']),
  groupIds: new Set(),
};

async function allAuditJson(): Promise<string> {
  return JSON.stringify(await t.handle.db.select().from(auditEvents));
}
const lastAudit = async (targetId: string) =>
  (
    await t.handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.targetId, targetId))
      .orderBy(desc(auditEvents.id))
      .limit(1)
  )[0]!;

async function created(name: string) {
  const result = await createLdapProvider(t.handle.db, box, SYSTEM_ACTOR, input(name));
  if (!result.ok) throw new Error(result.problem.message);
  return result.value;
}

describe('createLdapProvider', () => {
  it('stores a disabled directory, its password sealed, and audits without the password', async () => {
    const provider = await created('Corp');
    expect(provider).toMatchObject({ kind: 'ldap', name: 'Corp', enabled: false, version: 1, sortOrder: 10 });
    expect(provider.secret).not.toBeNull();
    expect(provider.secret).not.toContain(PASSWORD);
    expect(box.open(provider.secret!)).toBe(PASSWORD);
    expect(JSON.stringify(provider.config)).not.toContain(PASSWORD);
    expect(provider.config).not.toHaveProperty('bindPassword');
    const audit = await lastAudit(provider.id);
    expect(audit).toMatchObject({ action: 'identity_provider_created', outcome: 'success', targetName: 'Corp' });
    expect(audit.details).toMatchObject({ password: 'set' });
    expect(await allAuditJson()).not.toContain(PASSWORD);
  });

  it('drops a bindPassword smuggled into the config', async () => {
    const sneaky = input('Sneaky');
    (sneaky.config as Record<string, unknown>).bindPassword = PASSWORD;
    const result = await createLdapProvider(t.handle.db, box, SYSTEM_ACTOR, sneaky);
    expect(result.ok).toBe(true);
    if (result.ok) expect(JSON.stringify(result.value.config)).not.toContain(PASSWORD);
  });

  it('refuses an invalid configuration with its field, and a duplicate name as a conflict', async () => {
    const bad = await createLdapProvider(
      t.handle.db,
      box,
      SYSTEM_ACTOR,
      input('Bad', { config: { ...input('x').config, userFilter: '(uid=alice)' } }),
    );
    expect(bad).toMatchObject({ ok: false, problem: { kind: 'invalid', field: 'userFilter' } });
    const noPassword = await createLdapProvider(t.handle.db, box, SYSTEM_ACTOR, input('NoPw', { bindPassword: '' }));
    expect(noPassword).toMatchObject({ ok: false, problem: { kind: 'invalid', field: 'bindPassword' } });
    await created('Twice');
    const again = await createLdapProvider(t.handle.db, box, SYSTEM_ACTOR, input('TWICE'));
    expect(again).toMatchObject({ ok: false, problem: { kind: 'conflict', field: 'name' } });
    const names = (await listIdentityProviders(t.handle.db)).map((p) => p.name);
    expect(names).not.toContain('Bad');
    expect(names).not.toContain('NoPw');
    expect(names.filter((n) => n.toLowerCase() === 'twice')).toEqual(['Twice']);
  });

  it('refuses without auth_modify, audited, and stores nothing', async () => {
    const result = await createLdapProvider(t.handle.db, box, viewer, input('Refused'));
    expect(result).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'auth_modify' } });
    expect((await listIdentityProviders(t.handle.db)).map((p) => p.name)).not.toContain('Refused');
    const [refusal] = await t.handle.db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, 'authz_fail'))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(refusal).toMatchObject({ actorName: 'viewer', outcome: 'failure', targetName: 'Refused' });
    expect(refusal!.details).toMatchObject({ lacking: ['auth_modify'] });
    expect(await allAuditJson()).not.toContain(PASSWORD);
  });
});

describe('updateLdapProvider', () => {
  it('keeps the password when none is given, replaces it, clears it; audits only the word', async () => {
    const provider = await created('Update');
    const kept = await updateLdapProvider(
      t.handle.db,
      box,
      SYSTEM_ACTOR,
      provider,
      1,
      input('Update 2', { bindPassword: '' }),
    );
    expect(kept.ok).toBe(true);
    if (!kept.ok) return;
    expect(kept.value).toMatchObject({ name: 'Update 2', version: 2 });
    expect(box.open(kept.value.secret!)).toBe(PASSWORD);
    expect((await lastAudit(provider.id)).details).toMatchObject({
      changes: { name: { old: 'Update', new: 'Update 2' } },
    });
    expect((await lastAudit(provider.id)).details).not.toHaveProperty('password');

    const replaced = await updateLdapProvider(
      t.handle.db,
      box,
      SYSTEM_ACTOR,
      kept.value,
      2,
      input('Update 2', { bindPassword: NEW_PASSWORD }),
    );
    expect(replaced.ok).toBe(true);
    if (!replaced.ok) return;
    expect(replaced.value.secret).not.toContain(NEW_PASSWORD);
    expect(box.open(replaced.value.secret!)).toBe(NEW_PASSWORD);
    expect((await lastAudit(provider.id)).details).toMatchObject({ password: 'replaced' });

    const cleared = await updateLdapProvider(
      t.handle.db,
      box,
      SYSTEM_ACTOR,
      replaced.value,
      3,
      input('Update 2', { bindPassword: '', clearPassword: true }),
    );
    expect(cleared.ok).toBe(true);
    if (cleared.ok) expect(cleared.value.secret).toBeNull();
    expect((await lastAudit(provider.id)).details).toMatchObject({ password: 'cleared' });
    const json = await allAuditJson();
    expect(json).not.toContain(PASSWORD);
    expect(json).not.toContain(NEW_PASSWORD);
  });

  it('refuses a stale version, an invalid field, a taken name, and a missing auth_modify: nothing changes', async () => {
    const provider = await created('Guarded');
    await created('Taken');
    const stale = await updateLdapProvider(t.handle.db, box, SYSTEM_ACTOR, provider, 7, input('Guarded X'));
    expect(stale).toMatchObject({ ok: false, problem: { kind: 'conflict', reason: 'stale' } });
    const bad = await updateLdapProvider(
      t.handle.db,
      box,
      SYSTEM_ACTOR,
      provider,
      1,
      input('Guarded', { config: { ...input('x').config, urls: ['http://nope'] } }),
    );
    expect(bad).toMatchObject({ ok: false, problem: { kind: 'invalid', field: 'urls' } });
    const taken = await updateLdapProvider(t.handle.db, box, SYSTEM_ACTOR, provider, 1, input('taken'));
    expect(taken).toMatchObject({ ok: false, problem: { kind: 'conflict', field: 'name' } });
    const refused = await updateLdapProvider(
      t.handle.db,
      box,
      viewer,
      provider,
      1,
      input('Guarded', { bindPassword: NEW_PASSWORD }),
    );
    expect(refused).toMatchObject({ ok: false, problem: { kind: 'forbidden', lacking: 'auth_modify' } });
    const after = await findIdentityProvider(t.handle.db, provider.id);
    expect(after).toEqual(provider);
    expect(await allAuditJson()).not.toContain(NEW_PASSWORD);
  });
});

describe('updateLdapProvider on another kind', () => {
  it('refuses to write an LDAP configuration over an OpenID Connect provider: nothing changes', async () => {
    const [oidc] = await t.handle.db
      .insert(identityProviders)
      .values({ kind: 'oidc', name: 'Keycloak', config: { issuer: 'https://id.example' } })
      .returning();
    const result = await updateLdapProvider(t.handle.db, box, SYSTEM_ACTOR, oidc!, oidc!.version, input('Keycloak'));
    expect(result).toMatchObject({ ok: false, problem: { kind: 'invalid', field: 'kind' } });
    expect(await findIdentityProvider(t.handle.db, oidc!.id)).toEqual(oidc);
  });
});

describe('setProviderEnabled and deleteProvider', () => {
  it('enables (then listed for login, password unsealed) and disables, audited', async () => {
    const provider = await created('Toggle');
    const on = await setProviderEnabled(t.handle.db, SYSTEM_ACTOR, provider, 1, true);
    expect(on).toMatchObject({ ok: true, value: { enabled: true, version: 2 } });
    expect((await lastAudit(provider.id)).details).toEqual({ changes: { enabled: { old: false, new: true } } });
    const directories = await enabledLdapDirectories(t.handle.db, box);
    const mine = directories.find((d) => d.id === provider.id);
    expect(mine?.config.bindPassword).toBe(PASSWORD);
    expect(mine?.config.bindDn).toBe('cn=roster,dc=corp,dc=example');
    expect(directories.map((d) => d.name)).not.toContain('Corp');
    const off = await setProviderEnabled(t.handle.db, SYSTEM_ACTOR, on.ok ? on.value : provider, 2, false);
    expect(off).toMatchObject({ ok: true, value: { enabled: false, version: 3 } });
    expect((await enabledLdapDirectories(t.handle.db, box)).map((d) => d.id)).not.toContain(provider.id);
  });

  it('refuses enabling without auth_modify or with a stale version; nothing changes', async () => {
    const provider = await created('Toggle refused');
    expect(await setProviderEnabled(t.handle.db, viewer, provider, 1, true)).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden', lacking: 'auth_modify' },
    });
    expect(await setProviderEnabled(t.handle.db, SYSTEM_ACTOR, provider, 9, true)).toMatchObject({
      ok: false,
      problem: { kind: 'conflict', reason: 'stale' },
    });
    expect(await findIdentityProvider(t.handle.db, provider.id)).toEqual(provider);
  });

  it('deletes, audited; refuses without auth_modify or when stale', async () => {
    const provider = await created('Doomed');
    expect(await deleteProvider(t.handle.db, viewer, provider, 1)).toMatchObject({
      ok: false,
      problem: { kind: 'forbidden', lacking: 'auth_modify' },
    });
    expect(await deleteProvider(t.handle.db, SYSTEM_ACTOR, provider, 5)).toMatchObject({
      ok: false,
      problem: { kind: 'conflict', reason: 'stale' },
    });
    expect(await findIdentityProvider(t.handle.db, provider.id)).toEqual(provider);
    expect(await deleteProvider(t.handle.db, SYSTEM_ACTOR, provider, 1)).toEqual({ ok: true, value: undefined });
    expect(await findIdentityProvider(t.handle.db, provider.id)).toBeNull();
    expect(await lastAudit(provider.id)).toMatchObject({ action: 'identity_provider_deleted', targetName: 'Doomed' });
    expect(await deleteProvider(t.handle.db, SYSTEM_ACTOR, provider, 1)).toMatchObject({
      ok: false,
      problem: { kind: 'not_found' },
    });
    expect(await allAuditJson()).not.toContain(PASSWORD);
    expect(
      JSON.stringify(await t.handle.db.select({ config: identityProviders.config }).from(identityProviders)),
    ).not.toContain(PASSWORD);
  });
});
