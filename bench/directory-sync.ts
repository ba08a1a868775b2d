// A directory sync of N entries against a local slapd (test/helpers/slapd.ts): N people in the
// directory, N Roster users linked to them; the sync (read everything, then one transaction of
// updates) beside its ceiling — the paged directory read alone — with the process's peak RSS.
// Usage (slapd from Debian's package): npx tsx bench/directory-sync.ts [entries]
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/directory-sync.ts 10000
import { eq } from 'drizzle-orm';
import { identityProviders, userIdentities, users } from '../src/db/schema.js';
import { syncDirectory } from '../src/directories/directory-sync-commands.js';
import { createLdapProvider } from '../src/directories/identity-providers-commands.js';
import { listDirectoryUsers } from '../src/directories/ldap-directory.js';
import { SYSTEM_ACTOR } from '../src/security/actor.js';
import { loadSecretKey, SecretBox } from '../src/security/secret-box.js';
import { PEOPLE, slapdLdapConfig, startSlapd } from '../test/helpers/slapd.js';
import { openBenchDatabase } from './bench-database.js';

const entries = Number(process.argv[2] ?? 10_000);
const slapd = await startSlapd();
const { handle, config: appConfig } = await openBenchDatabase();
const db = handle.db;
try {
  const admin = await slapd.admin();
  const started = Date.now();
  for (let i = 0; i < entries; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, entries - i) }, (_, k) => {
        const uid = `sync${String(i + k).padStart(6, '0')}`;
        return admin.add(`uid=${uid},${PEOPLE}`, {
          objectClass: 'inetOrgPerson',
          uid,
          cn: uid,
          sn: 'Person',
          mail: `${uid}@example.test`,
        });
      }),
    );
  }
  await admin.unbind();
  console.log(`seeded ${entries} directory entries in ${((Date.now() - started) / 1000).toFixed(1)} s`);

  // Group source memberOf (one search for everything): the bench measures the sync, not group walks.
  const ldap = slapdLdapConfig(slapd, {
    groupSource: 'memberOf',
    nestedGroups: 'none',
    operationTimeoutMs: 60_000,
    connectTimeoutMs: 5_000,
  });
  const box = new SecretBox(loadSecretKey(appConfig.secretKey, appConfig.dataDir));
  await db.delete(identityProviders).where(eq(identityProviders.name, 'bench directory'));
  const { bindPassword, ...stored } = ldap;
  const created = await createLdapProvider(db, box, SYSTEM_ACTOR, {
    name: 'bench directory',
    sortOrder: 0,
    config: stored,
    bindPassword,
  });
  if (!created.ok) throw new Error(created.problem.message);
  const provider = created.value;

  const t0 = performance.now();
  const listing = await listDirectoryUsers(ldap);
  const readMs = performance.now() - t0;
  if (!listing.ok) throw new Error(listing.message);
  const people = listing.users.filter((u) => u.attributes.username?.startsWith('sync'));
  await db.delete(users).where(eq(users.realm, 'ldap'));
  for (let i = 0; i < people.length; i += 1000) {
    const batch = people.slice(i, i + 1000);
    const rows = await db
      .insert(users)
      .values(
        batch.map((p) => ({ username: `${p.attributes.username}`, realm: 'ldap' as const, email: 'stale@x.test' })),
      )
      .returning({ id: users.id });
    await db
      .insert(userIdentities)
      .values(rows.map((row, k) => ({ userId: row.id, providerId: provider.id, subject: batch[k]!.immutableId })));
  }

  const t1 = performance.now();
  const result = await syncDirectory(db, box, SYSTEM_ACTOR, provider.id, Date.now());
  const syncMs = performance.now() - t1;
  if (!result.ok) throw new Error(result.problem.message);
  const again = performance.now();
  await syncDirectory(db, box, SYSTEM_ACTOR, provider.id, Date.now());
  const unchangedMs = performance.now() - again;
  const rssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      entries: listing.users.length,
      directoryReadMs: Math.round(readMs),
      syncMs: Math.round(syncMs),
      unchangedSyncMs: Math.round(unchangedMs),
      report: result.value,
      peakRssMb: Math.round(rssMb),
    }),
  );
  await db.delete(identityProviders).where(eq(identityProviders.id, provider.id));
  await db.delete(users).where(eq(users.realm, 'ldap'));
} finally {
  await handle.close();
  await slapd.stop();
}
