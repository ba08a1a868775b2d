// docs/rules.md#file-mappings-and-their-precedence at scale: the launch plan reads each table once, however many groups the user is in
// (no query per group). Counted on a database of its own, every statement seen by Drizzle.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openPglite, type DatabaseHandle } from '../../src/db/client.js';
import { fileMappings, userGroups, users, workspaces, type User, type Workspace } from '../../src/db/schema.js';
import { sha256Hex } from '../../src/file-mappings/mapping-input.js';
import { launchPlanFor } from '../../src/launches/launches-queries.js';
import { prepareDatabase } from '../../src/setup/first-start.js';
import { ADMIN_PASSWORD } from '../helpers/test-app.js';
import { createGroup } from '../helpers/factories.js';

let handle: DatabaseHandle;
let statements = 0;
let workspace: Workspace;

beforeAll(async () => {
  handle = await openPglite(null, { onQuery: () => statements++ });
  await prepareDatabase(
    handle,
    loadConfig({
      ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD,
      ROSTER_SECRET_KEY: crypto.randomBytes(32).toString('base64'),
      LOG_LEVEL: 'silent',
    }),
  );
  [workspace] = (await handle.db
    .insert(workspaces)
    .values({ friendlyName: 'Chrome', image: 'kasmweb/chrome:1' })
    .returning()) as [Workspace];
});
afterAll(() => handle.close());

/** A user in `count` groups of their own, each mapping three files (one path shared by all). */
async function userInGroups(name: string, count: number): Promise<User> {
  const [user] = await handle.db.insert(users).values({ username: name }).returning();
  for (let i = 0; i < count; i++) {
    const group = await createGroup(handle.db, { name: `${name}-${i}`, priorityFrom: 100 });
    await handle.db.insert(userGroups).values({ userId: user!.id, groupId: group.id });
    await handle.db.insert(fileMappings).values(
      ['/shared', `/g${i}/a`, `/g${i}/b`].map((path) => ({
        groupId: group.id,
        name: path,
        destinationPath: path,
        content: Buffer.from(path),
        size: path.length,
        sha256: sha256Hex(Buffer.from(path)),
      })),
    );
  }
  return user!;
}

async function statementsFor(user: User) {
  const before = statements;
  const { plan } = await launchPlanFor(handle.db, user, workspace);
  return { count: statements - before, plan };
}

describe('launch plan queries', () => {
  it('takes the same few statements for 1 group as for 50', async () => {
    const one = await statementsFor(await userInGroups('one', 1));
    const fifty = await statementsFor(await userInGroups('fifty', 50));
    expect(one.count).toBe(4);
    expect(fifty.count).toBe(one.count);
    expect(fifty.plan.file_mappings).toHaveLength(101);
    expect(fifty.plan.skipped_file_mappings).toHaveLength(49);
  });
});
