// Each admin page through the full app beside its ceiling — a bare Fastify route running the same
// listUsers query and answering JSON — in one process run, at 32 connections. Prints req/s, p50,
// p99, the ratio to the ceiling, and the process's peak RSS. Usage:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/pages.ts [users] [seconds]
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { eq, sql } from 'drizzle-orm';
import { groups, users } from '../src/db/schema.js';
import { parseListQuery } from '../src/users/routes.js';
import { encodeCursor } from '../src/db/sql-helpers.js';
import { listUsers, sortExpression } from '../src/users/users-queries.js';
import { openBenchDatabase } from './bench-database.js';
import { benchServer, loadFromChild, type LoadOptions } from './bench-http.js';
import { seedUsers } from './seed.js';

const wanted = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 10);
const CONNECTIONS = 32;

const { handle, config } = await openBenchDatabase();
const db = handle.db;
await seedUsers(db, wanted);

// A group with 10,000 members, for the group page.
const [existing] = await db.select().from(groups).where(eq(groups.name, 'Bench 10k'));
const bigGroup = existing ?? (await db.insert(groups).values({ name: 'Bench 10k', priority: 777 }).returning())[0]!;
await db.execute(sql`
  insert into user_groups (user_id, group_id)
  select id, ${bigGroup.id} from users where username like 'bench-user-%' order by username limit 10000
  on conflict do nothing`);
await db.execute(sql`vacuum analyze user_groups`); // fresh statistics, as autovacuum leaves them
const [someone] = await db.select({ id: users.id }).from(users).where(eq(users.username, 'bench-user-4242'));

// Page 1,500 at 50 per page (or the last full page of a smaller run), reached as Next reaches it:
// a cursor after the row before it (row 74,950 at 1,500).
const [counted] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
const deepPage = Math.max(2, Math.min(1500, Math.floor(counted!.n / 50)));
const [deepRow] = (await db
  .select({ id: users.id, value: sql<string>`(${sortExpression('username', 'asc')})::text` })
  .from(users)
  .orderBy(sortExpression('username', 'asc'), users.id)
  .limit(1)
  .offset((deepPage - 1) * 50 - 1)) as [{ id: string; value: string }];
const deepCursor = encodeCursor(deepRow);

const app = await benchServer(handle, config);

// The ceiling: the same query, no session, no permissions, no template.
const bare = Fastify();
bare.get('/users', async (request) => {
  const query = parseListQuery(request.query as Parameters<typeof parseListQuery>[0]);
  return listUsers(db, query);
});
await bare.listen({ host: '127.0.0.1', port: 0 });
const bareBase = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;

async function load(url: string, headers: Record<string, string> = {}, options: Partial<LoadOptions> = {}) {
  const check = await fetch(url, { headers, method: options.method ?? 'GET', body: options.body, redirect: 'manual' });
  if (check.status >= 400) throw new Error(`${url} answered ${check.status}`);
  // A short warm-up first, so that no run pays for the process's first compiles and caches.
  await loadFromChild(url, { connections: CONNECTIONS, seconds: 2, headers, ...options });
  const result = await loadFromChild(url, { connections: CONNECTIONS, seconds, headers, ...options });
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result;
}

// A CSRF token of the admin's session, for the profile save.
const profilePage = await (await fetch(`${app.base}/profile`, { headers: { cookie: app.cookie } })).text();
const csrf = /name="_csrf" value="([^"]+)"/.exec(profilePage)![1]!;

const lists: Array<[string, string]> = [
  ['users list, page 1', 'per_page=25'],
  ['search "user4242"', 'q=user4242'],
  ['search "smith"', 'q=smith'],
  ['page 1 at 50 per page', 'per_page=50'],
  [
    `page ${deepPage.toLocaleString('en-US')} at 50 per page (cursor)`,
    `per_page=50&page=${deepPage}&after=${deepCursor}`,
  ],
];
const pages: Array<[string, string, Record<string, string>, Partial<LoadOptions>]> = [
  // The floor of every logged-in page: the session read with its user, and the layout.
  ['home page (no queries of its own)', '/', {}, {}],
  ['user page', `/admin/users/${someone!.id}`, {}, {}],
  ['group page, 10,000 members', `/admin/groups/${bigGroup.id}`, {}, {}],
  [
    'member picker fragment (htmx)',
    `/admin/groups/${bigGroup.id}/user-suggestions?user_q=garcia`,
    { 'hx-request': 'true' },
    {},
  ],
  [
    'profile save (POST, htmx)',
    '/profile/settings/chat_sfx',
    { 'content-type': 'application/x-www-form-urlencoded', 'x-csrf-token': csrf, 'hx-request': 'true' },
    { method: 'POST', body: 'value=false&action=save' },
  ],
];

const [total] = await db.select({ n: sql<number>`count(*)::int` }).from(users);
const setUpRss = process.resourceUsage().maxRSS / 1024;
console.log(`pages bench: ${total?.n} users on ${handle.kind}, ${CONNECTIONS} connections, ${seconds}s per run\n`);
console.log('| page | Roster req/s | p50 ms | p99 ms | ceiling req/s | ratio |\n|---|---|---|---|---|---|');
const ceilings = new Map<string, number>();
const rates = new Map<string, number>();
for (const [name, query] of lists) {
  const full = await load(`${app.base}/admin/users?${query}`, { cookie: app.cookie });
  const ceiling = await load(`${bareBase}/users?${query}`);
  ceilings.set(name, ceiling.requests.average);
  rates.set(name, full.requests.average);
  const ratio = full.requests.average / ceiling.requests.average;
  console.log(
    `| ${name} | ${full.requests.average.toFixed(0)} | ${full.latency.p50} | ${full.latency.p99} | ${ceiling.requests.average.toFixed(0)} | ${(ratio * 100).toFixed(0)} % |`,
  );
}
let floor = 0;
for (const [name, path, headers, options] of pages) {
  const full = await load(app.base + path, { cookie: app.cookie, ...headers }, options);
  if (path === '/') floor = full.requests.average;
  console.log(`| ${name} | ${full.requests.average.toFixed(0)} | ${full.latency.p50} | ${full.latency.p99} | — | — |`);
}
// A list page does all the home page does (session read, layout) and runs its query besides, so
// it cannot reach a larger share of a ceiling than the home page reaches.
const shares = [...ceilings].map(([name, ceiling]) => `${name} ${((floor / ceiling) * 100).toFixed(0)} %`);
console.log(
  `\nthe home page's rate as a share of each ceiling (the most a list page could reach): ${shares.join(', ')}`,
);
// Doing both the home page's work and the ceiling's query one after the other, a list page could
// at best serve 1 / (1/home + 1/ceiling) requests a second: the floor⊕ceiling bound.
console.log('\n| list page | req/s | floor⊕ceiling bound req/s | share of the bound |\n|---|---|---|---|');
for (const [name, ceiling] of ceilings) {
  const bound = 1 / (1 / floor + 1 / ceiling);
  const rate = rates.get(name)!;
  console.log(`| ${name} | ${rate.toFixed(0)} | ${bound.toFixed(0)} | ${((rate / bound) * 100).toFixed(0)} % |`);
}
// The weight of a row: the 25-row page over 25, and what one more row adds (50 rows less 25, over 25).
const pageBytes = async (query: string) =>
  Buffer.byteLength(
    await (await fetch(`${app.base}/admin/users?${query}`, { headers: { cookie: app.cookie } })).text(),
  );
const [bytes25, bytes50] = [await pageBytes('per_page=25'), await pageBytes('per_page=50')];
console.log(
  `\nusers list page 1: ${bytes25} bytes at 25 rows (${(bytes25 / 25).toFixed(0)} per row), ${bytes50} at 50; one row adds ${((bytes50 - bytes25) / 25).toFixed(0)} bytes`,
);
const peakRss = process.resourceUsage().maxRSS / 1024;
console.log(
  `\npeak RSS of this process (app and ceiling; the load comes from another process): ${setUpRss.toFixed(0)} MB after set-up, ${peakRss.toFixed(0)} MB after the runs`,
);
await app.close();
await bare.close();
await handle.close();
