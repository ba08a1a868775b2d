// The file mapping commands called directly on a database (no HTTP): each answers one Result,
// audits its success, and leaves nothing half-written when refused.
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, fileMappings } from '../../src/db/schema.js';
import { createMapping, deleteMapping, updateMapping } from '../../src/file-mappings/file-mappings-commands.js';
import { findMapping, type MappingOwner } from '../../src/file-mappings/file-mappings-queries.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';
import { createWorkspace } from '../../src/workspaces/workspaces-commands.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let owner: MappingOwner;
beforeAll(async () => {
  t = await createTestApp();
  const workspace = await createWorkspace(t.handle.db, SYSTEM_ACTOR, {
    friendlyName: 'Mapped',
    image: 'kasmweb/chrome:1.16.0',
    description: '',
    cores: 1,
    memoryMb: 1024,
    enabled: true,
    runConfigOverride: {},
  });
  if (!workspace.ok) throw new Error('fixture');
  owner = { kind: 'workspace', id: workspace.value.id, name: workspace.value.friendlyName };
});
afterAll(async () => t.close());

const mapping = (destinationPath: string, text = 'hello\n') => ({
  name: destinationPath.split('/').pop()!,
  description: '',
  destinationPath,
  writable: false,
  executable: false,
  content: { bytes: Buffer.from(text), fileName: '' },
});

const auditOf = (action: string) =>
  t.handle.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, owner.id)))
    .orderBy(desc(auditEvents.id));

const mappingsAt = (destinationPath: string) =>
  t.handle.db
    .select()
    .from(fileMappings)
    .where(and(eq(fileMappings.workspaceId, owner.id), eq(fileMappings.destinationPath, destinationPath)));

const NO = async () => ({ message: 'Refused by the check.' });

describe('file-mappings-commands', () => {
  it('createMapping: stores and audits by size and hash; a taken path is a conflict on destination_path; a refusing check is forbidden', async () => {
    const created = await createMapping(t.handle.db, SYSTEM_ACTOR, owner, mapping('/etc/a.conf'));
    if (!created.ok) throw new Error(created.problem.message);
    expect(created.value).not.toHaveProperty('content');
    const [row] = await auditOf('file_mapping_created');
    expect(row!.details).toMatchObject({ mapping: { destination_path: '/etc/a.conf', size: 6 } });
    expect(JSON.stringify(row!.details)).not.toContain('hello');

    const taken = await createMapping(t.handle.db, SYSTEM_ACTOR, owner, mapping('/etc/a.conf', 'other'));
    expect(taken).toEqual({
      ok: false,
      problem: {
        kind: 'conflict',
        field: 'destination_path',
        message: 'Mapped already maps a file to this Destination Path.',
      },
    });
    const refused = await createMapping(t.handle.db, SYSTEM_ACTOR, owner, mapping('/etc/b.conf'), NO);
    expect(refused).toEqual({ ok: false, problem: { kind: 'forbidden', message: 'Refused by the check.' } });
    expect(await mappingsAt('/etc/a.conf')).toHaveLength(1);
    expect(await mappingsAt('/etc/b.conf')).toEqual([]);
    expect(await auditOf('file_mapping_created')).toHaveLength(1);
  });

  it('updateMapping: audits before and after; a refusing check changes nothing; a deleted one is not_found', async () => {
    const created = await createMapping(t.handle.db, SYSTEM_ACTOR, owner, mapping('/etc/c.conf'));
    if (!created.ok) throw new Error('fixture');
    const before = created.value;
    const changed = await updateMapping(t.handle.db, SYSTEM_ACTOR, owner, before, {
      ...mapping('/etc/c.conf', 'new text'),
      writable: true,
    });
    expect(changed.ok && changed.value.writable).toBe(true);
    const [row] = await auditOf('file_mapping_updated');
    expect(row!.details).toMatchObject({ before: { writable: false, size: 6 }, mapping: { writable: true, size: 8 } });

    const refused = await updateMapping(
      t.handle.db,
      SYSTEM_ACTOR,
      owner,
      before,
      { ...mapping('/etc/c.conf', 'refused'), executable: true },
      NO,
    );
    expect(refused.ok || refused.problem.kind).toBe('forbidden');
    const stored = await findMapping(t.handle.db, owner, before.id);
    expect(stored).toMatchObject({ executable: false, writable: true });
    expect(stored!.content.toString()).toBe('new text');

    await t.handle.db.delete(fileMappings).where(eq(fileMappings.id, before.id));
    const gone = await updateMapping(t.handle.db, SYSTEM_ACTOR, owner, before, mapping('/etc/c.conf'));
    expect(gone.ok || gone.problem).toEqual({ kind: 'not_found', message: 'This file mapping no longer exists.' });
    expect(await auditOf('file_mapping_updated')).toHaveLength(1);
  });

  it('deleteMapping: deletes and audits; a refusing check keeps it; a second delete is not_found', async () => {
    const created = await createMapping(t.handle.db, SYSTEM_ACTOR, owner, mapping('/etc/d.conf'));
    if (!created.ok) throw new Error('fixture');
    const refused = await deleteMapping(t.handle.db, SYSTEM_ACTOR, owner, created.value, NO);
    expect(refused.ok || refused.problem.kind).toBe('forbidden');
    expect(await mappingsAt('/etc/d.conf')).toHaveLength(1);

    expect((await deleteMapping(t.handle.db, SYSTEM_ACTOR, owner, created.value)).ok).toBe(true);
    expect(await mappingsAt('/etc/d.conf')).toEqual([]);
    const [row] = await auditOf('file_mapping_deleted');
    expect(row!.details).toMatchObject({ mapping: { destination_path: '/etc/d.conf' } });

    const again = await deleteMapping(t.handle.db, SYSTEM_ACTOR, owner, created.value);
    expect(again.ok || again.problem.kind).toBe('not_found');
    expect(await auditOf('file_mapping_deleted')).toHaveLength(1);
  });
});
