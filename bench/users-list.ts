// Load test of the admin users list, logged in, with and without a search term. Usage:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/users-list.ts [users] [seconds]
// Seeds up to `users` users first (default 100000), then runs autocannon against a server on
// a loopback port for `seconds` (default 10) per scenario.
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { eq, sql } from 'drizzle-orm';
import { buildApp } from '../src/app.js';
import { users } from '../src/db/schema.js';
import { openBenchDatabase } from './bench-database.js';
import { seedUsers } from './seed.js';

const wanted = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 10);

const { handle, config } = await openBenchDatabase();
await seedUsers(handle.db, wanted);
// The bench logs in as the first admin; skip its forced password reset.
await handle.db.update(users).set({ forcePasswordReset: false }).where(eq(users.username, 'admin'));
const [total] = await handle.db.select({ n: sql<number>`count(*)::int` }).from(users);

const app = await buildApp({ config, db: handle.db });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

// Log in like a browser: the form's CSRF token, then the session cookie.
const loginPage = await fetch(`${base}/login`);
const anonymousCookie = loginPage.headers.get('set-cookie')!.split(';')[0]!;
const csrf = /name="_csrf" value="([^"]+)"/.exec(await loginPage.text())![1]!;
const login = await fetch(`${base}/login`, {
  method: 'POST',
  redirect: 'manual',
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: anonymousCookie },
  body: new URLSearchParams({ _csrf: csrf, username: 'admin', password: 'bench boss passphrase' }),
});
if (login.status !== 303) throw new Error(`bench login failed: ${login.status}`);
const cookie = login.headers.get('set-cookie')!.split(';')[0]!;

const scenarios = [
  ['list, first page', '/admin/users'],
  ['list, page 2000 sorted by email desc', '/admin/users?sort=email&dir=desc&page=2000'],
  ['search "smith" (common)', '/admin/users?q=smith'],
  ['search "user4242" (rare)', '/admin/users?q=user4242'],
  ['search "zz" (two letters, no match)', '/admin/users?q=zz'],
  ['search fragment (htmx) "garcia"', '/admin/users?q=garcia'],
] as const;

console.log(`users-list bench: ${total?.n} users on ${handle.kind}, ${seconds}s per scenario, 10 connections\n`);
console.log('| scenario | req/s | p50 ms | p99 ms |\n|---|---|---|---|');
for (const [name, path] of scenarios) {
  const headers: Record<string, string> = { cookie };
  if (name.includes('htmx')) headers['hx-request'] = 'true';
  const check = await fetch(base + path, { headers });
  if (check.status !== 200) throw new Error(`${path} answered ${check.status}`);
  const result = await autocannon({ url: base + path, connections: 10, duration: seconds, headers });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  console.log(`| ${name} | ${result.requests.average.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} |`);
}

await app.close();
await handle.close();
