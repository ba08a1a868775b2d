// /go, Launch Now, the launching page, ending a session, and the admin's plan preview (docs/rules.md#workspaces-and-the-launch-plan).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import type { Workspace } from '../db/schema.js';
import { refuseReachingUser } from '../groups/stronger-users.js';
import { hasPermission } from '../security/permissions.js';
import { viewerOf, type Viewer } from '../security/view-access.js';
import { LaunchForm, LaunchPreviewQuery, WorkspaceSessionParams } from '../schemas/workspaces.js';
import { ConfirmForm, IdParams } from '../schemas/common.js';
import { effectiveSettingsOfUser, type UserEffectiveSettings } from '../users/user-settings-queries.js';
import { findUserById } from '../users/users-queries.js';
import { findWorkspace, listWorkspaces } from '../workspaces/workspaces-queries.js';
import { formatSize } from '../file-mappings/mapping-input.js';
import { entityLoader, PAGE_STATUS } from '../http/problems.js';
import { forbidden } from '../security/result.js';
import type { LaunchPlan } from '../workspaces/recorded-launch-plan.js';
import { AT_LIMIT, endWorkspaceSession } from '../workspaces/workspace-sessions-commands.js';
import { findWorkspaceSession, workspaceSessionsOfUser } from '../workspaces/workspace-sessions-queries.js';
import { planForCaller } from './launch-plan.js';
import { launch } from './launches-commands.js';
import { LaunchPlanResponses } from '../schemas/launches.js';
import { defaultWorkspaceOf, launchPlanFor, mayEndOwnSessions, noDefaultMessage } from './launches-queries.js';

const isEmptyObject = (value: unknown) =>
  value === null ||
  value === undefined ||
  (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0);

/**
 * The plan as pages show it to `viewer`: what they may see of it, sizes readable, content left
 * out; the workspace's run config override as the JSON plan has it; a JSON setting nobody set
 * reads "(default)", not `{}` as if it were a value someone chose.
 */
export function planView(plan: LaunchPlan, viewer: Viewer) {
  const shown = planForCaller(plan, viewer);
  const override = shown.workspace.run_config_override;
  return {
    ...shown,
    runConfigOverride: isEmptyObject(override) ? null : JSON.stringify(override, null, 2),
    settings: shown.settings.map((s) =>
      s.source === 'default' && isEmptyObject(s.value) ? { ...s, display: '(default)' } : s,
    ),
    file_mappings: shown.file_mappings.map(({ content_base64: _content, ...m }) => ({
      ...m,
      sizeText: formatSize(m.size),
    })),
  };
}

/** Fetch Metadata of a request the user made on Roster itself or by typing the address. */
export function startsWithoutConfirm(secFetchSite: string | string[] | undefined): boolean {
  return secFetchSite === 'same-origin' || secFetchSite === 'none';
}

const launchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;

  const enabledWorkspaces = async () => (await listWorkspaces(db)).filter((w) => w.enabled);

  /** Launches `workspace`; `effective`: the user's settings when already read (for the default). */
  async function start(
    request: FastifyRequest,
    reply: FastifyReply,
    workspace: Workspace,
    effective?: UserEffectiveSettings,
  ) {
    const user = request.currentUser!;
    const result = await launch(db, actorOf(request), user, workspace, new Date(app.now()), effective);
    if (!result.ok && result.problem.reason === AT_LIMIT) {
      // A Launch button here would fail the same way: offer the running sessions to end instead.
      const [launches, settings] = await Promise.all([
        workspaceSessionsOfUser(db, user.id),
        effective ?? effectiveSettingsOfUser(db, user.id),
      ]);
      return reply
        .code(PAGE_STATUS[result.problem.kind])
        .render('launches/limit', { message: result.problem.message, launches, mayEnd: mayEndOwnSessions(settings) });
    }
    if (!result.ok) {
      return reply.code(PAGE_STATUS[result.problem.kind]).render('launches/choose', {
        message: result.problem.message,
        workspaces: await enabledWorkspaces(),
        title: 'Cannot launch',
      });
    }
    return reply.redirect(`/workspace-sessions/${result.value.id}`, 303);
  }

  // A link (and Auto Launch after login): starts the default workspace only for a request the
  // user made here — typed into the address bar (`none`) or from one of Roster's own pages
  // (`same-origin`). Anything else (another site, a same-site page's <img>, a browser that sends
  // no Fetch Metadata) gets the one-button confirm page, so no page can start sessions on
  // someone's behalf. Auto Launch after login is marked in the session by the login itself.
  app.get('/go', async (request, reply) => {
    const autoLaunch = request.session.autoLaunchPending === true;
    if (autoLaunch) delete request.session.autoLaunchPending; // good for one /go only
    const effective = await effectiveSettingsOfUser(db, request.currentUser!.id);
    const found = await defaultWorkspaceOf(db, request.currentUser!.id, effective);
    if (!found.ok)
      return reply.render('launches/choose', {
        message: noDefaultMessage(found),
        workspaces: await enabledWorkspaces(),
        title: 'No default workspace',
      });
    if (!autoLaunch && !startsWithoutConfirm(request.headers['sec-fetch-site'])) {
      return reply.render('launches/choose', {
        message: `Launch ${found.workspace.friendlyName}?`,
        workspaces: [found.workspace],
        title: 'Launch workspace',
      });
    }
    return start(request, reply, found.workspace, effective);
  });

  app.post('/launch', { schema: { body: LaunchForm } }, async (request, reply) => {
    const id = request.body.workspace_id;
    if (id === undefined) {
      const effective = await effectiveSettingsOfUser(db, request.currentUser!.id);
      const found = await defaultWorkspaceOf(db, request.currentUser!.id, effective);
      if (!found.ok)
        return reply.code(409).render('launches/choose', {
          message: noDefaultMessage(found),
          workspaces: await enabledWorkspaces(),
          title: 'No default workspace',
        });
      return start(request, reply, found.workspace, effective);
    }
    const workspace = await findWorkspace(db, id);
    if (!workspace?.enabled) {
      return reply.code(409).render('launches/choose', {
        message: 'That workspace cannot be launched: it is disabled or no longer exists.',
        workspaces: await enabledWorkspaces(),
        title: 'Cannot launch',
      });
    }
    return start(request, reply, workspace);
  });

  /** The session if it is the actor's own, or the actor may manage anyone's (users_auth_session); else the 404. */
  const sessionParam = entityLoader(
    { title: 'Session not found', message: 'This workspace session does not exist (any more).' },
    async (id, request) => {
      const actor = request.currentUser!;
      const session = await findWorkspaceSession(db, id);
      const asAdmin = hasPermission(actor.permissions, 'users_auth_session');
      if (!session || (session.userId !== actor.id && !asAdmin)) return null;
      return { session, own: session.userId === actor.id, asAdmin };
    },
  );

  /** Whether the actor may end the session: an admin may end anyone's, a user their own with Allow Delete. */
  async function mayEnd({ session, asAdmin }: { session: { userId: string }; asAdmin: boolean }) {
    return asAdmin || mayEndOwnSessions(await effectiveSettingsOfUser(db, session.userId));
  }

  app.get(
    '/workspace-sessions/:id',
    { schema: { params: WorkspaceSessionParams }, preHandler: sessionParam.load },
    async (request, reply) => {
      const found = sessionParam.of(request);
      const { session, own } = found;
      return reply.render('launches/session', {
        session,
        own,
        mayEnd: await mayEnd(found),
        plan: planView(session.plan, viewerOf(actorOf(request))),
      });
    },
  );

  /** The session to end, once the actor may end it (else the 403 is sent, and null). */
  async function sessionToEnd(request: FastifyRequest, reply: FastifyReply) {
    const found = sessionParam.of(request);
    if (!(await mayEnd(found))) {
      await reply.forbidden(
        'Your groups do not allow you to end your own sessions (Allow Delete is off); ask an administrator.',
      );
      return null;
    }
    // Another's session, as an admin: ending a stronger user's needs users_modify_admin.
    const actor = actorOf(request);
    const { session, own } = found;
    const owner = { id: session.userId, username: session.username, realm: session.realm };
    const check = own
      ? undefined
      : (tx: Database) => refuseReachingUser(tx, actor, owner, `Ending a workspace session of ${session.username}`);
    return { ...found, check };
  }

  /** The confirm page (JavaScript off); refused for a stronger user's session as the end itself is. */
  async function confirmEnd(reply: FastifyReply, found: NonNullable<Awaited<ReturnType<typeof sessionToEnd>>>) {
    const refused = found.check ? await found.check(db) : null;
    if (refused) return reply.problemPage(forbidden(refused.message).problem); // audited by the check
    return reply.render('launches/confirm-end', {
      session: found.session,
      cancelUrl: `/workspace-sessions/${found.session.id}`,
    });
  }

  app.get(
    '/workspace-sessions/:id/end',
    { schema: { params: WorkspaceSessionParams }, preHandler: sessionParam.load },
    async (request, reply) => {
      const found = await sessionToEnd(request, reply);
      return found ? confirmEnd(reply, found) : reply;
    },
  );

  app.post(
    '/workspace-sessions/:id/end',
    { schema: { params: WorkspaceSessionParams, body: ConfirmForm }, preHandler: sessionParam.load },
    async (request, reply) => {
      const found = await sessionToEnd(request, reply);
      if (!found) return reply;
      if (request.body.confirm !== 'yes') return confirmEnd(reply, found);
      const { session, own, check } = found;
      const ended = await endWorkspaceSession(db, actorOf(request), session, check);
      if (!ended.ok && ended.problem.kind === 'forbidden') return reply.problemPage(ended.problem); // audited by the check
      request.session.flash = ended.ok
        ? { type: 'success', message: `Session of ${session.workspaceName} ended.` }
        : { type: 'error', message: ended.problem.message };
      return reply.redirect(
        own ? '/profile#workspace-sessions' : `/admin/users/${session.userId}#workspace-sessions`,
        303,
      );
    },
  );

  // Preview: the full plan for any user and workspace, recording nothing.
  type PreviewRequest = FastifyRequest<{ Params: { id: string }; Querystring: { workspace?: string } }>;

  /** The user and the workspace to preview (the chosen one, else their default), or why there is none. */
  async function previewInput(request: PreviewRequest) {
    const user = await findUserById(db, request.params.id);
    if (!user) return null;
    const effective = await effectiveSettingsOfUser(db, user.id);
    const chosen = request.query.workspace;
    if (chosen !== undefined) {
      const workspace = await findWorkspace(db, chosen);
      return { user, effective, workspace, message: workspace ? null : 'That workspace no longer exists.' };
    }
    const found = await defaultWorkspaceOf(db, user.id, effective);
    return found.ok
      ? { user, effective, workspace: found.workspace, message: null }
      : {
          user,
          effective,
          workspace: undefined,
          message: `${noDefaultMessage(found, user.username)} Pick a workspace to preview.`,
        };
  }

  app.get(
    '/admin/users/:id/launch-preview',
    {
      schema: { params: IdParams, querystring: LaunchPreviewQuery, response: LaunchPlanResponses },
      config: { permission: 'users_view' },
    },
    async (request, reply) => {
      const input = await previewInput(request);
      if (!input) return reply.notFoundPage('User not found', 'This user does not exist (any more).');
      const { user, effective, workspace, message } = input;
      const plan = workspace ? (await launchPlanFor(db, user, workspace, effective)).plan : null;
      return reply.render('launches/preview', {
        user,
        workspaces: await listWorkspaces(db),
        workspace: workspace ?? null,
        message,
        plan: plan && planView(plan, viewerOf(actorOf(request))),
      });
    },
  );

  // The same plan as JSON, file content in base64: the mappings the caller may view, the others counted.
  app.get(
    '/admin/users/:id/launch-plan.json',
    {
      schema: { params: IdParams, querystring: LaunchPreviewQuery, response: LaunchPlanResponses },
      config: { permission: 'users_view' },
    },
    async (request, reply) => {
      const input = await previewInput(request);
      if (!input) return reply.code(404).send({ error_message: 'This user does not exist.' });
      if (!input.workspace)
        return reply.code(404).send({ error_message: input.message ?? 'That workspace no longer exists.' });
      const { plan } = await launchPlanFor(db, input.user, input.workspace, input.effective);
      return reply.send(planForCaller(plan, viewerOf(actorOf(request))));
    },
  );
};

export default launchRoutes;
