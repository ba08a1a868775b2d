// Refusals keep auditing, but the same refusal again (same actor, address, action, target and
// message) within a minute of its first row is counted on that row, not written again — by the
// API and by the pages, on the app's clock (the test moves it; nothing sleeps).
import crypto from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordRefusal, REPEAT_WINDOW_MS } from '../../src/audit/audit-log.js';
import { auditEvents } from '../../src/db/schema.js';
import { insertApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: TestClient;
let counter = 0;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());

const refusalsOf = (actorId: string) =>
  t.handle.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.actorId, actorId), eq(auditEvents.action, 'authz_fail')))
    .orderBy(asc(auditEvents.id));
const repeatedOf = (row: { details: unknown }) => (row.details as { repeated?: number }).repeated ?? 1;

const write = (basic: string, remoteAddress = '127.0.0.1', call = 'create_user') =>
  t.app.inject({
    method: 'POST',
    url: `/api/public/${call}`,
    headers: { authorization: basic },
    payload: { target_user: { username: 'x', password: USER_PASSWORD } },
    remoteAddress,
  });

describe('repeated refusals', () => {
  it('20 refused API writes within a minute are one row counting 20; a minute on, a new row', async () => {
    const key = await insertApiKey(t.handle.db, { permissions: ['global_admin'], readOnly: true });
    for (let i = 0; i < 20; i++) expect((await write(key.basic)).statusCode).toBe(403);
    let rows = await refusalsOf(key.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.details).toMatchObject({
      reason: expect.stringContaining('read-only'),
      repeated: 20,
      lastAt: new Date(t.clock.now()).toISOString(),
    });
    expect(rows[0]!.occurredAt.getTime()).toBe(t.clock.now());

    // Just inside the window of the first row: still counted there.
    t.clock.advance(REPEAT_WINDOW_MS - 1);
    await write(key.basic);
    expect((await refusalsOf(key.id)).map(repeatedOf)).toEqual([21]);
    // Past it: a new row, which counts the next ones.
    t.clock.advance(2);
    await write(key.basic);
    await write(key.basic);
    rows = await refusalsOf(key.id);
    expect(rows.map(repeatedOf)).toEqual([21, 2]);
  });

  it('keeps a row for each different address, call or key', async () => {
    const key = await insertApiKey(t.handle.db, { permissions: ['global_admin'], readOnly: true });
    const other = await insertApiKey(t.handle.db, { permissions: ['global_admin'], readOnly: true });
    for (let i = 0; i < 3; i++) {
      await write(key.basic);
      await write(key.basic, '192.0.2.7');
      await write(key.basic, '127.0.0.1', 'delete_user');
      await write(other.basic);
    }
    const rows = await refusalsOf(key.id);
    expect(rows.map((row) => [row.ip, (row.details as { url: string }).url, repeatedOf(row)])).toEqual([
      ['127.0.0.1', '/api/public/create_user', 3],
      ['192.0.2.7', '/api/public/create_user', 3],
      ['127.0.0.1', '/api/public/delete_user', 3],
    ]);
    expect((await refusalsOf(other.id)).map(repeatedOf)).toEqual([3]);
  });

  it('folds a refused change (no way up) per target and message', async () => {
    const actor = {
      type: 'user' as const,
      id: crypto.randomUUID(),
      name: 'deputy',
      ip: '127.0.0.1',
      at: new Date(t.clock.now()),
      permissions: new Set<never>(),
      groupIds: new Set<string>(),
    };
    const group = { type: 'group', id: crypto.randomUUID(), name: 'Ops' };
    const refuse = (target: typeof group, lacking: string[]) =>
      recordRefusal(t.handle.db, actor, target, `Changing ${target.name} needs ${lacking.join(', ')}.`, lacking);
    for (let i = 0; i < 4; i++) await refuse(group, ['users_modify_admin']);
    await refuse(group, ['groups_modify_system']);
    await refuse({ ...group, id: crypto.randomUUID(), name: 'Dev' }, ['users_modify_admin']);
    const rows = await refusalsOf(actor.id);
    expect(
      rows.map((row) => [row.targetName, (row.details as { lacking: string[] }).lacking, repeatedOf(row)]),
    ).toEqual([
      ['Ops', ['users_modify_admin'], 4],
      ['Ops', ['groups_modify_system'], 1],
      ['Dev', ['users_modify_admin'], 1],
    ]);
  });

  it('folds refused pages the same way, and the audit page shows the count', async () => {
    const name = `viewer-${++counter}`;
    const id = await admin.addUser(name);
    const viewer = new TestClient(t.app);
    await viewer.login(name, USER_PASSWORD);
    await viewer.get('/');
    for (let i = 0; i < 5; i++) expect((await viewer.get('/admin/groups')).statusCode).toBe(403);
    expect((await viewer.get('/admin/workspaces')).statusCode).toBe(403);
    const rows = await refusalsOf(id);
    expect(rows.map((row) => [(row.details as { url: string }).url, repeatedOf(row)])).toEqual([
      ['/admin/groups', 5],
      ['/admin/workspaces', 1],
    ]);
    const page = await admin.get(`/admin/audit?actor=${name}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<strong>Repeated</strong>: 5 times, the last at');
    expect(page.body.match(/<strong>Repeated<\/strong>/g)).toHaveLength(1);
  });
});
