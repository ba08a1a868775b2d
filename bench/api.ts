// The Developer API with N users: get_user and a paged get_users through the full app (key check,
// schema, handler) beside their ceiling — a bare Fastify route running the same queries and
// answering the same JSON — at 32 connections; then one full get_users (every user, streamed):
// its time, bytes and the process's peak RSS. Usage:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/api.ts [users] [seconds]
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { eq, sql } from 'drizzle-orm';
import { buildApp } from '../src/app.js';
import { groupsAndSessionsOf, kasmUserRow, userBatch } from '../src/api/api-queries.js';
import { kasmUser } from '../src/api/kasm-shapes.js';
import { apiKeyPermissions, apiKeys, users } from '../src/db/schema.js';
import { hashApiSecret, newApiCredentials } from '../src/security/api-key-secret.js';
import { openBenchDatabase } from './bench-database.js';
import { loadFromChild } from './bench-http.js';
import { seedUsers } from './seed.js';

const wanted = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 10);
const CONNECTIONS = 32;

const { handle, config } = await openBenchDatabase();
const db = handle.db;
await seedUsers(db, wanted);
const [someone] = await db.select({ id: users.id }).from(users).where(eq(users.username, 'bench-user-4242'));

// A key for the bench (made again on every run).
await db.delete(apiKeys).where(eq(apiKeys.name, 'bench'));
const credentials = newApiCredentials();
const [key] = await db
  .insert(apiKeys)
  .values({ name: 'bench', key: credentials.key, secretHash: hashApiSecret(credentials.secret) })
  .returning();
await db.insert(apiKeyPermissions).values({ apiKeyId: key!.id, permission: 'users_view' });

const app = await buildApp({ config: { ...config, apiRateLimit: 1_000_000 }, db });
await app.listen({ host: '127.0.0.1', port: 0 });
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

// The ceiling: the same queries and shapes, no key check, no schema, no rate limit.
const bare = Fastify();
bare.post('/get_user', async () => {
  const row = (await kasmUserRow(db, someone!.id))!;
  const { groupsOf, sessionsOf } = await groupsAndSessionsOf(db, [row.id]);
  return { user: kasmUser(row, groupsOf.get(row.id) ?? [], sessionsOf.get(row.id) ?? []) };
});
bare.post('/get_users', async () => {
  const rows = await userBatch(db, { offset: 4900, limit: 100 });
  const { groupsOf, sessionsOf } = await groupsAndSessionsOf(
    db,
    rows.map((row) => row.id),
  );
  return { users: rows.map((row) => kasmUser(row, groupsOf.get(row.id) ?? [], sessionsOf.get(row.id) ?? [])) };
});
await bare.listen({ host: '127.0.0.1', port: 0 });
const bareBase = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}`;

async function load(url: string, body: Record<string, unknown>) {
  const options = {
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ api_key: credentials.key, api_key_secret: credentials.secret, ...body }),
  };
  const check = await fetch(url, options);
  if (check.status !== 200) throw new Error(`${url} answered ${check.status}: ${await check.text()}`);
  const result = await loadFromChild(url, { connections: CONNECTIONS, seconds, ...options });
  if (result.errors > 0 || result.non2xx > 0)
    throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return result;
}

const [total] = await db.select({ n: sql<number>`count(*)::int` }).from(users);

// First, before any load run raises the peak: one full get_users, read as a script reads it.
const rssBefore = process.resourceUsage().maxRSS;
const started = performance.now();
const response = await fetch(`${base}/api/public/get_users`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    authorization: `Basic ${Buffer.from(`${credentials.key}:${credentials.secret}`).toString('base64')}`,
  },
  body: '{}',
});
let bytes = 0;
for await (const chunk of response.body!) bytes += (chunk as Uint8Array).byteLength;
const elapsed = performance.now() - started;
const fullLine =
  `full get_users: ${total?.n} users, ${(bytes / 1024 / 1024).toFixed(1)} MB in ${(elapsed / 1000).toFixed(2)} s; ` +
  `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB (before it: ${(rssBefore / 1024).toFixed(0)} MB)`;
console.log(`api bench: ${total?.n} users on ${handle.kind}, ${CONNECTIONS} connections, ${seconds}s per run\n`);
console.log('| call | Roster req/s | p50 ms | p99 ms | ceiling req/s | ratio |\n|---|---|---|---|---|---|');
const runs: Array<[string, string, Record<string, unknown>]> = [
  ['get_user', 'get_user', { target_user: { user_id: someone!.id } }],
  ['get_users, page 50 of 100 users', 'get_users', { page: 50, page_size: 100 }],
];
for (const [name, call, body] of runs) {
  const full = await load(`${base}/api/public/${call}`, body);
  const ceiling = await load(`${bareBase}/${call}`, body);
  const ratio = full.requests.average / ceiling.requests.average;
  console.log(
    `| ${name} | ${full.requests.average.toFixed(0)} | ${full.latency.p50} | ${full.latency.p99} | ${ceiling.requests.average.toFixed(0)} | ${(ratio * 100).toFixed(0)} % |`,
  );
}

console.log(`\n${fullLine}`);
await app.close();
await bare.close();
await handle.close();
