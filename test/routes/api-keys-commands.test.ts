// The API key commands called directly on a database (no HTTP): each answers one Result,
// audits its success and its own refusals (no way up), and changes nothing when refused.
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApiKey,
  deleteApiKey,
  setApiKeyPermissions,
  updateApiKey,
} from '../../src/api-keys/api-keys-commands.js';
import { findApiKey, permissionsOfApiKey } from '../../src/api-keys/api-keys-queries.js';
import type { ApiKeyInput } from '../../src/api-keys/api-key-validation.js';
import { auditEvents } from '../../src/db/schema.js';
import { SYSTEM_ACTOR, type Actor } from '../../src/security/actor.js';
import type { Permission } from '../../src/security/permissions.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const input = (name: string, extra: Partial<ApiKeyInput> = {}): ApiKeyInput => ({
  name,
  readOnly: false,
  enabled: true,
  expiresAt: null,
  ...extra,
});

/** A user holding only the API key permissions: weaker than a key that holds users_view. */
const weaker: Actor = {
  type: 'user',
  id: '00000000-0000-4000-8000-000000000001',
  name: 'weaker',
  ip: '127.0.0.1',
  permissions: new Set<Permission>(['devapi_view', 'devapi_modify', 'devapi_delete']),
  groupIds: new Set(),
};

const auditOf = (action: string, targetId: string) =>
  t.handle.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)))
    .orderBy(desc(auditEvents.id));

async function newKey(name: string) {
  const created = await createApiKey(t.handle.db, SYSTEM_ACTOR, input(name));
  if (!created.ok) throw new Error(created.problem.message);
  return created.value.apiKey;
}

describe('api-keys-commands', () => {
  it('createApiKey: the key, its once-only secret and an audit row; a taken name is a conflict on name', async () => {
    const created = await createApiKey(t.handle.db, SYSTEM_ACTOR, input('Cmd Key'));
    if (!created.ok) throw new Error(created.problem.message);
    expect(created.value.credentials.secret).toBeTruthy();
    expect(created.value.apiKey.secretHash).not.toContain(created.value.credentials.secret);
    expect(await auditOf('api_key_created', created.value.apiKey.id)).toHaveLength(1);

    const taken = await createApiKey(t.handle.db, SYSTEM_ACTOR, input('cmd key'));
    expect(taken.ok || taken.problem).toEqual({
      kind: 'conflict',
      field: 'name',
      message: 'An API key with this Name already exists (names are compared ignoring case).',
    });
  });

  it('setApiKeyPermissions: grants and audits; an unknown one is invalid; one the actor lacks is forbidden and audited', async () => {
    const key = await newKey('Cmd Perms');
    expect((await setApiKeyPermissions(t.handle.db, SYSTEM_ACTOR, key, ['users_view'])).ok).toBe(true);
    expect(await auditOf('api_key_permissions_changed', key.id)).toHaveLength(1);

    const unknown = await setApiKeyPermissions(t.handle.db, SYSTEM_ACTOR, key, ['no_such_permission']);
    expect(unknown.ok || unknown.problem.kind).toBe('invalid');

    const upward = await setApiKeyPermissions(t.handle.db, weaker, key, ['users_view', 'groups_view']);
    expect(upward.ok || upward.problem).toMatchObject({ kind: 'forbidden', lacking: 'groups_view' });
    const [refusal] = await auditOf('authz_fail', key.id);
    expect(refusal).toMatchObject({ outcome: 'failure', actorName: 'weaker' });
    expect(await permissionsOfApiKey(t.handle.db, key.id)).toEqual(['users_view']);
    expect(await auditOf('api_key_permissions_changed', key.id)).toHaveLength(1);
  });

  it('updateApiKey: changing a key that holds more than the actor is forbidden, audited, and changes nothing', async () => {
    const key = await newKey('Cmd Strong');
    await setApiKeyPermissions(t.handle.db, SYSTEM_ACTOR, key, ['users_view']);
    const refused = await updateApiKey(t.handle.db, weaker, key, input('Cmd Strong', { readOnly: true }));
    expect(refused.ok || refused.problem).toMatchObject({ kind: 'forbidden', lacking: 'users_view' });
    expect(await auditOf('authz_fail', key.id)).toHaveLength(1);
    expect((await findApiKey(t.handle.db, key.id))!.readOnly).toBe(false);

    const saved = await updateApiKey(t.handle.db, SYSTEM_ACTOR, key, input('Cmd Strong', { readOnly: true }));
    expect(saved.ok && saved.value.readOnly).toBe(true);
    const [row] = await auditOf('api_key_updated', key.id);
    expect((row!.details as { changes: object }).changes).toEqual({ read_only: { old: false, new: true } });
  });

  it('deleteApiKey: deletes and audits; a second delete is not_found and audits nothing', async () => {
    const key = await newKey('Cmd Doomed');
    expect(await deleteApiKey(t.handle.db, SYSTEM_ACTOR, key)).toEqual({ ok: true, value: undefined });
    expect(await findApiKey(t.handle.db, key.id)).toBeUndefined();
    const again = await deleteApiKey(t.handle.db, SYSTEM_ACTOR, key);
    expect(again.ok || again.problem.kind).toBe('not_found');
    expect(await auditOf('api_key_deleted', key.id)).toHaveLength(1);
  });
});
