// A directory sync against a real slapd: it refreshes linked users' attributes, disables the
// users whose entry is gone, re-enables them when it is back, never deletes, and changes nothing
// when the directory goes away. Each test links users of its own.
import crypto from 'node:crypto';
import { and, desc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditEvents,
  groupMappings,
  identityProviders,
  userGroups,
  userIdentities,
  users,
} from '../../src/db/schema.js';
import { syncDirectory } from '../../src/directories/directory-sync-commands.js';
import { createLdapProvider, setProviderEnabled } from '../../src/directories/identity-providers-commands.js';
import type { LdapConfig } from '../../src/directories/ldap-config.js';
import { listDirectoryUsers, testConnection } from '../../src/directories/ldap-directory.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/security/actor.js';
import { GROUPS, PEOPLE, skipSlapdTests, slapdLdapConfig, startSlapd, type Slapd } from '../helpers/slapd.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { createGroup } from '../helpers/factories.js';

describe.skipIf(skipSlapdTests)('directory sync against a real slapd', () => {
  let slapd: Slapd;
  let t: TestApp;
  beforeAll(async () => {
    [slapd, t] = await Promise.all([startSlapd(), createTestApp()]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([slapd?.stop(), t?.close()]);
  });

  const db = () => t.app.db;
  const now = () => t.clock.now();

  async function directory(overrides: Partial<LdapConfig> = {}) {
    const { bindPassword, ...config } = slapdLdapConfig(slapd, overrides);
    const created = await createLdapProvider(db(), t.app.secretBox, SYSTEM_ACTOR, {
      name: `Directory ${crypto.randomUUID().slice(0, 8)}`,
      sortOrder: 10,
      config,
      bindPassword,
    });
    if (!created.ok) throw new Error(created.problem.message);
    await setProviderEnabled(db(), SYSTEM_ACTOR, created.value, created.value.version, true);
    return created.value;
  }

  /** A directory person of this test's own, and the Roster user linked to them. */
  async function linkedPerson(providerId: string, extra: Record<string, string> = {}) {
    const uid = `p${crypto.randomUUID().slice(0, 8)}`;
    await slapd.add(`uid=${uid},${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid,
      cn: uid,
      sn: 'Person',
      mail: `${uid}@example.test`,
      ...extra,
    });
    const found = await testConnection(slapdLdapConfig(slapd), uid);
    if (!found.ok) throw new Error(found.message);
    const [user] = await db()
      .insert(users)
      .values({ username: uid, realm: 'ldap', email: 'old@example.test', lastName: 'Person' })
      .returning();
    await db()
      .insert(userIdentities)
      .values({ userId: user!.id, providerId, subject: found.user.immutableId, externalName: found.user.dn });
    return { uid, user: user!, subject: found.user.immutableId };
  }

  const userById = async (id: string) => (await db().select().from(users).where(eq(users.id, id)))[0]!;

  it('recomputes mapped memberships of linked users at each sync', async () => {
    const provider = await directory();
    const { user, uid } = await linkedPerson(provider.id);
    const dirGroup = `cn=s-${uid},${GROUPS}`;
    await slapd.add(dirGroup, { objectClass: 'groupOfNames', cn: `s-${uid}`, member: `uid=${uid},${PEOPLE}` });
    const group = await createGroup(db(), { name: `Synced ${uid}` });
    await db()
      .insert(groupMappings)
      .values({ groupId: group.id, providerId: provider.id, groupDn: dirGroup, matchKey: dirGroup.toLowerCase() });
    const membership = async () =>
      (
        await db()
          .select()
          .from(userGroups)
          .where(and(eq(userGroups.userId, user.id), eq(userGroups.groupId, group.id)))
      )[0];
    await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect((await membership())?.sourceProviderId).toBe(provider.id);
    await slapd.remove(dirGroup);
    await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect(await membership()).toBeUndefined();
  });

  it('refreshes the mapped attributes, audited as changes by the provider', async () => {
    const provider = await directory();
    const { user, uid } = await linkedPerson(provider.id);
    const result = await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect(result.ok && result.value).toMatchObject({ outcome: 'completed', updated: 1, disabled: 0, errors: 0 });
    expect((await userById(user.id)).email).toBe(`${uid}@example.test`);
    const [event] = await db()
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_updated'), eq(auditEvents.targetId, user.id)))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect(event?.actorName).toBe(`ldap:${provider.name}`);
    expect(event?.details).toMatchObject({
      changes: { email: { old: 'old@example.test', new: `${uid}@example.test` } },
    });
    const [identity] = await db().select().from(userIdentities).where(eq(userIdentities.userId, user.id));
    expect(identity?.lastSyncAt).not.toBeNull();
    // A second sync finds nothing to change.
    const again = await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect(again.ok && again.value.updated).toBe(0);
  });

  it('disables (never deletes) a user whose entry is gone, and re-enables them when it is back', async () => {
    const provider = await directory();
    const gone = await linkedPerson(provider.id);
    const kept = await linkedPerson(provider.id);
    await slapd.remove(`uid=${gone.uid},${PEOPLE}`);
    const result = await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect(result.ok && result.value).toMatchObject({ outcome: 'completed', disabled: 1 });
    expect((await userById(gone.user.id)).disabled).toBe(true);
    expect((await userById(kept.user.id)).disabled).toBe(false);

    // Back with the same immutable id is not possible in slapd (entryUUID is new): link the new one.
    await slapd.add(`uid=${gone.uid},${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid: gone.uid,
      cn: gone.uid,
      sn: 'Person',
    });
    const back = await testConnection(slapdLdapConfig(slapd), gone.uid);
    if (!back.ok) throw new Error(back.message);
    await db()
      .update(userIdentities)
      .set({ subject: back.user.immutableId })
      .where(eq(userIdentities.userId, gone.user.id));
    const again = await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect(again.ok && again.value.enabled).toBe(1);
    expect((await userById(gone.user.id)).disabled).toBe(false);
  });

  it('reads the whole directory page by page (an entry on a later page is not taken as gone)', async () => {
    const listing = await listDirectoryUsers(slapdLdapConfig(slapd), 2);
    expect(listing.ok && listing.users.map((u) => u.attributes.username)).toEqual(
      expect.arrayContaining(['alice', 'bob', 'carol', 'twin1', 'twin2']),
    );
  });

  it('leaves a user an admin disabled by hand disabled when the entry is there', async () => {
    const provider = await directory();
    const { user } = await linkedPerson(provider.id);
    await db().update(users).set({ disabled: true }).where(eq(users.id, user.id));
    await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect((await userById(user.id)).disabled).toBe(true);
  });

  it('a directory that does not answer changes nothing and reports the failure', async () => {
    const provider = await directory({ urls: ['ldaps://127.0.0.1:1'], connectTimeoutMs: 300 });
    const { user } = await linkedPerson(provider.id);
    const result = await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
    expect(result.ok && result.value).toMatchObject({ outcome: 'failed', errors: 1, disabled: 0 });
    expect(await userById(user.id)).toMatchObject({ disabled: false, email: 'old@example.test' });
    const [row] = await db().select().from(identityProviders).where(eq(identityProviders.id, provider.id));
    expect(row?.lastSync).toMatchObject({ outcome: 'failed' });
    expect(row?.lastSync?.message).not.toContain('service-secret');
  });

  it('a directory paused mid-sync fails within the operation timeout and changes nothing', async () => {
    const provider = await directory({ operationTimeoutMs: 500 });
    const { user } = await linkedPerson(provider.id);
    slapd.pause();
    try {
      const started = Date.now();
      const result = await syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
      expect(Date.now() - started).toBeLessThan(5000);
      expect(result.ok && result.value.outcome).toBe('failed');
    } finally {
      slapd.resume();
    }
    expect((await userById(user.id)).disabled).toBe(false);
  });

  // On one PGlite connection a second transaction waits for the first; the lock matters between processes.
  it.skipIf(!process.env.TEST_DATABASE_URL)(
    'applies in one process at a time: while another holds the sync lock, a sync is refused and changes nothing',
    async () => {
      const provider = await directory();
      const { user } = await linkedPerson(provider.id);
      const result = await db().transaction(async (other) => {
        await other.execute(
          sql`select pg_advisory_xact_lock(hashtext('roster:directory-sync'), hashtext(${provider.id}))`,
        );
        return syncDirectory(db(), t.app.secretBox, SYSTEM_ACTOR, provider.id, now());
      });
      expect(result.ok ? null : result.problem).toMatchObject({ kind: 'conflict', reason: 'sync_running' });
      expect((await userById(user.id)).email).toBe('old@example.test');
    },
  );

  it('refuses an actor without auth_modify', async () => {
    const provider = await directory();
    const actor: Actor = {
      ...SYSTEM_ACTOR,
      type: 'user',
      id: null,
      name: 'viewer',
      permissions: new Set(['auth_view']),
    };
    const result = await syncDirectory(db(), t.app.secretBox, actor, provider.id, now());
    expect(result.ok ? null : result.problem).toMatchObject({ kind: 'forbidden', lacking: 'auth_modify' });
  });
});
