// Directory (LDAP) logins against a local slapd beside local (argon2) logins, through the same
// attemptLogin the login form calls, and beside their ceiling: the directory's search + bind alone
// (ldapts, no database). Concurrency C, N logins each; p50/p99 and logins/s.
// Usage (slapd from Debian's package): npx tsx bench/ldap-login.ts [logins] [concurrency]
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/ldap-login.ts 400 4
import { eq } from 'drizzle-orm';
import { attemptLogin } from '../src/auth/login-commands.js';
import { identityProviders, users } from '../src/db/schema.js';
import { createLdapProvider, setProviderEnabled } from '../src/directories/identity-providers-commands.js';
import { authenticate } from '../src/directories/ldap-directory.js';
import { addMembers } from '../src/groups/groups-commands.js';
import { systemGroupId } from '../src/groups/groups-queries.js';
import { SYSTEM_ACTOR } from '../src/security/actor.js';
import { loadSecretKey, SecretBox } from '../src/security/secret-box.js';
import { hashPassword } from '../src/security/passwords.js';
import { PASSWORDS, slapdLdapConfig, startSlapd } from '../test/helpers/slapd.js';
import { openBenchDatabase } from './bench-database.js';

const logins = Number(process.argv[2] ?? 400);
const concurrency = Number(process.argv[3] ?? 4);
const slapd = await startSlapd();
const { handle, config: appConfig } = await openBenchDatabase();
const db = handle.db;

async function measure(name: string, once: () => Promise<boolean>) {
  const times: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < logins) {
        const t0 = performance.now();
        if (!(await once())) failures++;
        times.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
  console.log(
    `${name.padEnd(44)} p50 ${at(0.5).padStart(7)} ms  p99 ${at(0.99).padStart(7)} ms  ${(logins / seconds).toFixed(0).padStart(5)} logins/s${failures ? `  (${failures} failed!)` : ''}`,
  );
}

try {
  const box = new SecretBox(loadSecretKey(appConfig.secretKey, appConfig.dataDir));
  const ldap = slapdLdapConfig(slapd, { loginDomains: ['bench.test'] });
  await db.delete(identityProviders).where(eq(identityProviders.name, 'bench login directory'));
  const { bindPassword, ...stored } = ldap;
  const created = await createLdapProvider(db, box, SYSTEM_ACTOR, {
    name: 'bench login directory',
    sortOrder: 0,
    config: stored,
    bindPassword,
  });
  if (!created.ok) throw new Error(created.problem.message);
  await setProviderEnabled(db, SYSTEM_ACTOR, created.value, created.value.version, true);
  await db.delete(users).where(eq(users.username, 'bench-local-login'));
  const [local] = await db
    .insert(users)
    .values({ username: 'bench-local-login', passwordHash: await hashPassword('bench local password') })
    .returning();
  await addMembers(db, local!.id, [await systemGroupId(db, 'all_users')]);

  const lockout = { maxAttempts: 1000, lockAfter: 0, ip: '127.0.0.1', failureMinMs: 0 };
  const login = (username: string, password: string) => async () =>
    (await attemptLogin(db, box, { ...lockout, username, password, nowMs: Date.now() })).ok;
  console.log(
    `${logins} logins at concurrency ${concurrency}, ${appConfig.databaseUrl ? 'PostgreSQL' : 'embedded PGlite'}`,
  );
  await login('alice@bench.test', PASSWORDS.alice)(); // the first login creates the user
  await measure('local login (argon2id verify)', login('bench-local-login', 'bench local password'));
  await measure('LDAP login (search, bind, groups, refresh)', login('alice@bench.test', PASSWORDS.alice));
  await measure(
    'ceiling: search + bind + groups alone',
    async () => (await authenticate(ldap, 'alice', PASSWORDS.alice)).ok,
  );
  await measure('LDAP wrong password', async () => !(await login('alice@bench.test', 'wrong password')()));
} finally {
  await db.delete(identityProviders).where(eq(identityProviders.name, 'bench login directory'));
  await handle.close();
  await slapd.stop();
}
