// Seeds N users quickly, for the benchmarks. Usage:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/seed.ts 100000
// (without DATABASE_URL it seeds the embedded database in ROSTER_DATA_DIR, default ./bench-data)
import { like, sql } from 'drizzle-orm';
import { pathToFileURL } from 'node:url';
import { hashPassword } from '../src/security/passwords.js';
import type { Database } from '../src/db/client.js';
import { users } from '../src/db/schema.js';
import { openBenchDatabase } from './bench-database.js';

const FIRST = [
  'James',
  'Mary',
  'Robert',
  'Patricia',
  'John',
  'Jennifer',
  'Michael',
  'Linda',
  'David',
  'Elizabeth',
  'William',
  'Barbara',
  'Richard',
  'Susan',
  'Joseph',
  'Jessica',
  'Thomas',
  'Sarah',
  'Carlos',
  'Aiko',
  'Wei',
  'Fatima',
  'Olga',
  'Kwame',
];
const LAST = [
  'Smith',
  'Johnson',
  'Williams',
  'Brown',
  'Jones',
  'Garcia',
  'Miller',
  'Davis',
  'Rodriguez',
  'Martinez',
  'Hernandez',
  'Lopez',
  'Gonzalez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Nakamura',
  'Okafor',
];
const ORGS = [
  'Acme Corp',
  'Globex',
  'Initech',
  'Umbrella',
  'Hooli',
  'Stark Industries',
  'Wayne Enterprises',
  'Cyberdyne',
];

const textArray = (values: string[]) => sql.raw(`array[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',')}]`);

/** Adds users `bench-user-<i>` until there are `count` of them; returns how many were added. */
export async function seedUsers(db: Database, count: number): Promise<number> {
  const [existing] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(users)
    .where(like(users.username, 'bench-user-%'));
  const from = (existing?.n ?? 0) + 1;
  if (from > count) return 0;
  const hash = await hashPassword('bench user password');
  const batch = 20_000;
  for (let start = from; start <= count; start += batch) {
    const end = Math.min(count, start + batch - 1);
    await db.execute(sql`
      insert into users (username, first_name, last_name, email, organization, password_hash, last_session)
      select 'bench-user-' || i,
             (${textArray(FIRST)})[1 + i % ${FIRST.length}],
             (${textArray(LAST)})[1 + (i / 7) % ${LAST.length}],
             'user' || i || '@example.com',
             (${textArray(ORGS)})[1 + (i / 3) % ${ORGS.length}],
             ${hash},
             case when i % 4 = 0 then now() - (i % 1000) * interval '1 hour' end
      from generate_series(${start}::int, ${end}::int) as i
      on conflict do nothing`);
  }
  await db.execute(sql`
    insert into user_groups (user_id, group_id)
    select u.id, g.id from users u cross join groups g
    where g.system_key = 'all_users' and u.username like 'bench-user-%'
    on conflict do nothing`);
  // Fresh statistics and visibility map, as autovacuum would leave them on a live server.
  await db.execute(sql`vacuum analyze users`);
  await db.execute(sql`vacuum analyze user_groups`);
  return count - from + 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = Number(process.argv[2] ?? 100_000);
  const { handle } = await openBenchDatabase();
  const started = performance.now();
  const added = await seedUsers(handle.db, count);
  console.log(
    `seeded ${added} users (${count} wanted) in ${((performance.now() - started) / 1000).toFixed(1)} s on ${handle.kind}`,
  );
  await handle.close();
}
