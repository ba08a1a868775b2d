// The launch plan at scale (docs/rules.md#file-mappings-and-their-precedence): a user in 50 groups with 20 file mappings each (5 MB of
// content in all) plus 10 workspace mappings. Reports the time to compute the plan, the
// statements it took, and beside it the ceiling: the same mappings query alone.
//   npx tsx bench/launch-plan.ts [iterations]            (embedded PGlite in ./bench-data)
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/launch-plan.ts
import crypto from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { fileMappings, groups, userGroups, users, workspaces } from '../src/db/schema.js';
import { launchPlanFor } from '../src/launches/launches-queries.js';
import { mappingsForLaunch } from '../src/file-mappings/file-mappings-queries.js';
import { sha256Hex } from '../src/file-mappings/mapping-input.js';
import { openBenchDatabase } from './bench-database.js';

const iterations = Number(process.argv[2] ?? 30);
const GROUPS = 50;
const PER_GROUP = 20;
const CONTENT_BYTES = Math.floor((5 * 1024 * 1024) / (GROUPS * PER_GROUP)); // 5 MB over 1,000 mappings

let statements = 0;
const { handle } = await openBenchDatabase({ onQuery: () => statements++ });
const db = handle.db;

async function seed() {
  const [existing] = await db.select().from(users).where(eq(users.username, 'plan-bench'));
  const [workspace] = await db.select().from(workspaces).where(eq(workspaces.friendlyName, 'Plan Bench'));
  if (existing && workspace) return { user: existing, workspace };
  const started = performance.now();
  const [user] = await db.insert(users).values({ username: 'plan-bench' }).returning();
  const [created] = await db
    .insert(workspaces)
    .values({ friendlyName: 'Plan Bench', image: 'kasmweb/chrome:1.16.0' })
    .returning();
  const file = (path: string, owner: Record<string, string>) => {
    const content = crypto.randomBytes(CONTENT_BYTES);
    return { ...owner, name: path, destinationPath: path, content, size: content.length, sha256: sha256Hex(content) };
  };
  await db
    .insert(fileMappings)
    .values(Array.from({ length: 10 }, (_, i) => file(`/shared/${i}`, { workspaceId: created!.id })));
  const taken = new Set((await db.select({ p: groups.priority }).from(groups)).map((row) => row.p));
  const priorities = Array.from({ length: 1000 }, (_, i) => i + 1)
    .filter((p) => !taken.has(p))
    .slice(0, GROUPS);
  for (const [g, priority] of priorities.entries()) {
    const [group] = await db
      .insert(groups)
      .values({ name: `plan-bench-${g}`, priority })
      .returning();
    await db.insert(userGroups).values({ userId: user!.id, groupId: group!.id });
    // Every group also maps /shared/0..4 (skipped: the workspace wins) and 15 paths of its own.
    const paths = [
      ...Array.from({ length: 5 }, (_, i) => `/shared/${i}`),
      ...Array.from({ length: PER_GROUP - 5 }, (_, i) => `/group-${g}/${i}`),
    ];
    await db.insert(fileMappings).values(paths.map((path) => file(path, { groupId: group!.id })));
  }
  console.log(`seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { user: user!, workspace: created! };
}

const { user, workspace } = await seed();
const [{ bytes }] = (await db.select({ bytes: sql<number>`sum(size)::int` }).from(fileMappings)) as [{ bytes: number }];

async function measure(work: () => Promise<unknown>) {
  await work(); // warm up
  const times: number[] = [];
  const before = statements;
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return {
    median: times[Math.floor(times.length / 2)]!,
    p95: times[Math.floor(times.length * 0.95)]!,
    statements: (statements - before) / iterations,
  };
}

const plan = await launchPlanFor(db, user, workspace);
const full = await measure(() => launchPlanFor(db, user, workspace));
const ceiling = await measure(() => mappingsForLaunch(db, user.id, workspace));
console.log(
  `launch-plan bench on ${handle.kind}: ${GROUPS} groups × ${PER_GROUP} mappings + 10 workspace mappings, ${(bytes / 1024 / 1024).toFixed(1)} MB of mapping content in the database`,
);
console.log(
  `plan: ${plan.plan.file_mappings.length} files applied, ${plan.plan.skipped_file_mappings.length} skipped\n`,
);
console.log('| what | median | p95 | statements |');
console.log('|---|---|---|---|');
console.log(
  `| launch plan (settings, groups, workspaces, mappings) | ${full.median.toFixed(1)} ms | ${full.p95.toFixed(1)} ms | ${full.statements} |`,
);
console.log(
  `| ceiling: the mappings query alone | ${ceiling.median.toFixed(1)} ms | ${ceiling.p95.toFixed(1)} ms | ${ceiling.statements} |`,
);
await handle.close();
