// Load test of the audit log page at 1,000,000 events, logged in, with and without filters.
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/audit-list.ts [events] [seconds]
import { sql } from 'drizzle-orm';
import { auditEvents } from '../src/db/schema.js';
import { openBenchDatabase } from './bench-database.js';
import { benchServer, runScenarios } from './bench-http.js';

const wanted = Number(process.argv[2] ?? 1_000_000);
const seconds = Number(process.argv[3] ?? 10);

const { handle, config } = await openBenchDatabase();
const [counted] = await handle.db.select({ n: sql<number>`count(*)::int` }).from(auditEvents);
const missing = wanted - (counted?.n ?? 0);
if (missing > 0) {
  const started = performance.now();
  // Spread over a year, 500 actors, 20,000 targets and a realistic mix of actions.
  for (let start = 1; start <= missing; start += 100_000) {
    const end = Math.min(missing, start + 99_999);
    await handle.db.execute(sql`
      insert into audit_events (occurred_at, actor_type, actor_id, actor_name, ip, action, outcome, target_type, target_name, details)
      select now() - (i % 525600) * interval '1 minute', 'user', null, 'actor-' || (i % 500), '10.0.' || (i % 250) || '.1',
             (array['authn_login_success','authn_login_success','authn_login_fail','user_updated','group_member_added','user_created'])[1 + i % 6],
             case when i % 6 = 2 then 'failure' else 'success' end,
             'user', 'target-' || (i % 20000), jsonb_build_object('changes', jsonb_build_object('city', jsonb_build_object('old', 'A', 'new', 'B')))
      from generate_series(${start}::int, ${end}::int) as i`);
  }
  await handle.db.execute(sql`vacuum analyze audit_events`);
  console.log(`seeded ${missing} audit events in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
const [total] = await handle.db.select({ n: sql<number>`count(*)::int` }).from(auditEvents);
const [middle] = await handle.db.select({ id: sql<number>`(max(id) / 2)::int` }).from(auditEvents);

const server = await benchServer(handle, config);
console.log(`audit-list bench: ${total?.n} events on ${handle.kind}, ${seconds}s per scenario, 10 connections\n`);
await runScenarios(server, seconds, [
  ['newest page', '/admin/audit'],
  ['page deep in the log (keyset)', `/admin/audit?before=${middle?.id}`],
  ['filter by action', '/admin/audit?action=user_updated'],
  ['filter by actor', '/admin/audit?actor=actor-42'],
  ['filter by target', '/admin/audit?target=target-4242'],
  ['filter by date range', '/admin/audit?from=2026-03-01&to=2026-03-02'],
  ['actor + action + date', '/admin/audit?actor=actor-7&action=authn_login_fail&from=2026-01-01'],
]);
await server.close();
await handle.close();
