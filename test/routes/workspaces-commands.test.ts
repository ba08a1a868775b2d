// The workspace commands called directly on a database (no HTTP): each answers one Result,
// audits its success (and the refusals it owns), and leaves nothing half-written when refused.
import { and, desc, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, userSettings, workspaces, workspaceSessions } from '../../src/db/schema.js';
import { launch } from '../../src/launches/launches-commands.js';
import { buildLaunchPlan } from '../../src/launches/launch-plan.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';
import { AT_LIMIT, endWorkspaceSession, recordLaunch } from '../../src/workspaces/workspace-sessions-commands.js';
import { createWorkspace, deleteWorkspace, updateWorkspace } from '../../src/workspaces/workspaces-commands.js';
import type { WorkspaceInput } from '../../src/workspaces/workspace-validation.js';
import { seedUser } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const input = (friendlyName: string, extra: Partial<WorkspaceInput> = {}): WorkspaceInput => ({
  friendlyName,
  image: 'kasmweb/chrome:1.16.0',
  description: '',
  cores: 2,
  memoryMb: 2048,
  enabled: true,
  runConfigOverride: {},
  ...extra,
});

/** The audit rows of one action on one target, newest first. */
const auditOf = (action: string, targetId: string) =>
  t.handle.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)))
    .orderBy(desc(auditEvents.id));

const countWorkspaces = async (name: string) =>
  (
    await t.handle.db
      .select()
      .from(workspaces)
      .where(sql`lower(${workspaces.friendlyName}) = lower(${name})`)
  ).length;

describe('workspaces-commands', () => {
  it('createWorkspace: the workspace and its audit row; a duplicate name is a conflict on friendly_name, nothing stored', async () => {
    const created = await createWorkspace(t.handle.db, SYSTEM_ACTOR, input('Cmd Chrome'));
    if (!created.ok) throw new Error(created.problem.message);
    expect(created.value.friendlyName).toBe('Cmd Chrome');
    const [row] = await auditOf('workspace_created', created.value.id);
    expect(row).toMatchObject({ outcome: 'success', targetName: 'Cmd Chrome', actorType: 'system' });

    const duplicate = await createWorkspace(t.handle.db, SYSTEM_ACTOR, input('cmd chrome'));
    expect(duplicate).toEqual({
      ok: false,
      problem: {
        kind: 'conflict',
        field: 'friendly_name',
        message: 'A workspace with this Friendly Name already exists.',
      },
    });
    expect(await countWorkspaces('cmd chrome')).toBe(1);
  });

  it('updateWorkspace: audits the changed fields only; a name taken is a conflict and changes nothing', async () => {
    const a = await createWorkspace(t.handle.db, SYSTEM_ACTOR, input('Cmd A'));
    const b = await createWorkspace(t.handle.db, SYSTEM_ACTOR, input('Cmd B'));
    if (!a.ok || !b.ok) throw new Error('fixture');
    const updated = await updateWorkspace(t.handle.db, SYSTEM_ACTOR, a.value, input('Cmd A', { cores: 4 }));
    expect(updated.ok && updated.value.cores).toBe(4);
    const [row] = await auditOf('workspace_updated', a.value.id);
    expect((row!.details as { changes: object }).changes).toEqual({ cores: { old: 2, new: 4 } });

    const taken = await updateWorkspace(t.handle.db, SYSTEM_ACTOR, b.value, input('Cmd A', { cores: 8 }));
    expect(taken.ok || taken.problem).toMatchObject({ kind: 'conflict', field: 'friendly_name' });
    const [still] = await t.handle.db.select().from(workspaces).where(eq(workspaces.id, b.value.id));
    expect(still).toMatchObject({ friendlyName: 'Cmd B', cores: 2 });
    expect(await auditOf('workspace_updated', b.value.id)).toEqual([]);
  });

  it('deleteWorkspace: clears the Default Workspace Image settings that named it and audits how many; gone is not_found', async () => {
    const user = await seedUser(t.handle.db, 'cmd-default', USER_PASSWORD);
    const created = await createWorkspace(t.handle.db, SYSTEM_ACTOR, input('Cmd Doomed'));
    if (!created.ok) throw new Error('fixture');
    await t.handle.db.insert(userSettings).values({ userId: user.id, key: 'default_image', value: created.value.id });
    const deleted = await deleteWorkspace(t.handle.db, SYSTEM_ACTOR, created.value);
    expect(deleted.ok).toBe(true);
    const [row] = await auditOf('workspace_deleted', created.value.id);
    expect(row!.details).toMatchObject({ default_image_cleared: { users: 1, groups: 0 } });
    expect(await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id))).toEqual([]);

    const again = await deleteWorkspace(t.handle.db, SYSTEM_ACTOR, created.value);
    expect(again.ok || again.problem.kind).toBe('not_found');
    expect(await auditOf('workspace_deleted', created.value.id)).toHaveLength(1);
  });
});

describe('workspace-sessions-commands and launches-commands', () => {
  async function fixture(name: string) {
    const user = await seedUser(t.handle.db, name, USER_PASSWORD);
    const created = await createWorkspace(t.handle.db, SYSTEM_ACTOR, input(`Cmd ${name}`));
    if (!created.ok) throw new Error('fixture');
    const plan = buildLaunchPlan({
      user: { id: user.id, username: user.username },
      workspace: created.value,
      settings: new Map(),
      workspaceNames: new Map(),
      mappings: [],
    });
    return { user, workspace: created.value, plan };
  }
  const sessionsOf = (userId: string) =>
    t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, userId));

  it('recordLaunch: records and audits; at the limit a conflict with reason at_limit, audited as a failure, nothing recorded', async () => {
    const { user, plan } = await fixture('cmd-launcher');
    const first = await recordLaunch(t.handle.db, SYSTEM_ACTOR, user, plan, 1, new Date(t.clock.now()));
    if (!first.ok) throw new Error(first.problem.message);
    const [launched] = await auditOf('workspace_launch', user.id);
    expect(launched).toMatchObject({ outcome: 'success' });
    expect(launched!.details).toMatchObject({ session_id: first.value.id });

    const second = await recordLaunch(t.handle.db, SYSTEM_ACTOR, user, plan, 1, new Date(t.clock.now()));
    expect(second.ok || second.problem).toMatchObject({ kind: 'conflict', reason: AT_LIMIT });
    const [refused] = await auditOf('workspace_launch', user.id);
    expect(refused).toMatchObject({ outcome: 'failure' });
    expect(await sessionsOf(user.id)).toHaveLength(1);
  });

  it('recordLaunch: a refusing check is forbidden, before anything is counted or recorded', async () => {
    const { user, plan } = await fixture('cmd-stronger');
    const refused = await recordLaunch(t.handle.db, SYSTEM_ACTOR, user, plan, 5, new Date(t.clock.now()), async () => ({
      message: 'Not you.',
    }));
    expect(refused).toEqual({ ok: false, problem: { kind: 'forbidden', message: 'Not you.' } });
    expect(await sessionsOf(user.id)).toEqual([]);
    expect(await auditOf('workspace_launch', user.id)).toEqual([]);
  });

  it('launch: a disabled workspace is a conflict and records nothing', async () => {
    const { user, workspace } = await fixture('cmd-disabled');
    const disabled = { ...workspace, enabled: false };
    const result = await launch(t.handle.db, SYSTEM_ACTOR, user, disabled, new Date(t.clock.now()));
    expect(result).toEqual({
      ok: false,
      problem: { kind: 'conflict', message: `${workspace.friendlyName} is disabled and cannot be launched.` },
    });
    expect(await sessionsOf(user.id)).toEqual([]);
  });

  it('endWorkspaceSession: ends and audits; a refusing check is forbidden and ends nothing; an ended one is not_found', async () => {
    const { user, plan } = await fixture('cmd-ender');
    const started = await recordLaunch(t.handle.db, SYSTEM_ACTOR, user, plan, 5, new Date(t.clock.now()));
    if (!started.ok) throw new Error('fixture');
    const session = { ...started.value, username: user.username };

    const refused = await endWorkspaceSession(t.handle.db, SYSTEM_ACTOR, session, async () => ({ message: 'No.' }));
    expect(refused.ok || refused.problem.kind).toBe('forbidden');
    expect(await sessionsOf(user.id)).toHaveLength(1);

    expect(await endWorkspaceSession(t.handle.db, SYSTEM_ACTOR, session)).toEqual({ ok: true, value: undefined });
    const [ended] = await auditOf('workspace_session_ended', user.id);
    expect(ended!.details).toMatchObject({ session_id: session.id });
    expect(await sessionsOf(user.id)).toEqual([]);

    const again = await endWorkspaceSession(t.handle.db, SYSTEM_ACTOR, session);
    expect(again.ok || again.problem.kind).toBe('not_found');
    expect(await auditOf('workspace_session_ended', user.id)).toHaveLength(1);
  });
});
