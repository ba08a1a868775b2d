// Load test of the admin users list, logged in, with and without a search term. Usage:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/users-list.ts [users] [seconds]
// Seeds up to `users` users first (default 100000), then runs autocannon against a server on
// a loopback port for `seconds` (default 10) per scenario.
import { sql } from 'drizzle-orm';
import { users } from '../src/db/schema.js';
import { openBenchDatabase } from './bench-database.js';
import { benchServer, runScenarios } from './bench-http.js';
import { seedUsers } from './seed.js';

const wanted = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 10);

const { handle, config } = await openBenchDatabase();
await seedUsers(handle.db, wanted);
const [total] = await handle.db.select({ n: sql<number>`count(*)::int` }).from(users);
const server = await benchServer(handle, config);
console.log(`users-list bench: ${total?.n} users on ${handle.kind}, ${seconds}s per scenario, 10 connections\n`);
await runScenarios(server, seconds, [
  ['list, first page', '/admin/users'],
  ['list, page 2000 sorted by email desc', '/admin/users?sort=email&dir=desc&page=2000'],
  ['search "smith" (common)', '/admin/users?q=smith'],
  ['search "user4242" (rare)', '/admin/users?q=user4242'],
  ['search "zz" (two letters, no match)', '/admin/users?q=zz'],
  ['search fragment (htmx) "garcia"', '/admin/users?q=garcia'],
]);
await server.close();
await handle.close();
