import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import type { Workspace } from '../db/schema.js';
import { listMappings } from '../file-mappings/file-mappings-queries.js';
import fileMappingRoutes, { mappingListView } from '../file-mappings/routes.js';
import { entityLoader, PAGE_STATUS } from '../http/problems.js';
import { hasPermission } from '../security/permissions.js';
import { fieldErrorsOf, type Problem } from '../security/result.js';
import { EmptyForm, WorkspaceForm, WorkspaceParams } from '../schemas/workspaces.js';
import { validateWorkspace, workspaceFormValues, type WorkspaceFormBody } from './workspace-validation.js';
import { createWorkspace, deleteWorkspace, updateWorkspace } from './workspaces-commands.js';
import { defaultImageReferences, findWorkspace, listWorkspaces } from './workspaces-queries.js';

const LIST = { url: '/admin/workspaces', label: 'Workspaces' };

/** "3 users and 1 group", "no one". */
function describeReferences({ users, groups }: { users: number; groups: number }): string {
  const parts = [];
  if (users > 0) parts.push(`${users} ${users === 1 ? 'user' : 'users'}`);
  if (groups > 0) parts.push(`${groups} ${groups === 1 ? 'group' : 'groups'}`);
  return parts.length > 0 ? parts.join(' and ') : 'no one';
}

const workspaceRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;

  const MISSING = { title: 'Workspace not found', message: 'This workspace does not exist (any more).' };
  const workspaceParam = entityLoader(MISSING, (id) => findWorkspace(db, id));

  /** A refused save: the form again, the message beside its field (the Friendly Name unless it says). */
  const formErrorsOf = (problem: Problem) =>
    problem.field || problem.fields ? fieldErrorsOf(problem) : { friendly_name: problem.message };

  async function renderShow(
    request: FastifyRequest,
    reply: FastifyReply,
    workspace: Workspace,
    form: { values?: Required<WorkspaceFormBody>; errors?: Record<string, string>; confirmDisable?: string } = {},
  ) {
    const actor = request.currentUser!;
    const canModify = hasPermission(actor.permissions, 'images_modify');
    const mappings = await listMappings(db, { kind: 'workspace', id: workspace.id });
    return reply.render('workspaces/show', {
      workspace,
      values: form.values ?? workspaceFormValues(workspace),
      errors: form.errors ?? {},
      confirmDisable: form.confirmDisable ?? null,
      canModify,
      canDelete: hasPermission(actor.permissions, 'images_delete'),
      mappings: mappingListView({ url: `/admin/workspaces/${workspace.id}` }, mappings, canModify),
    });
  }

  app.get('/admin/workspaces', { config: { permission: 'images_view' } }, async (_request, reply) => {
    return reply.render('workspaces/index', { rows: await listWorkspaces(db) });
  });

  app.get('/admin/workspaces/new', { config: { permission: 'images_create' } }, async (_request, reply) =>
    reply.render('workspaces/new', { values: workspaceFormValues(null), errors: {} }),
  );

  app.post(
    '/admin/workspaces',
    { schema: { body: WorkspaceForm }, config: { permission: 'images_create' } },
    async (request, reply) => {
      const values = {
        ...workspaceFormValues(null),
        ...request.body,
        enabled: request.body.enabled === undefined ? '' : 'on',
      };
      const validation = validateWorkspace(request.body);
      if (!validation.ok) return reply.code(422).render('workspaces/new', { values, errors: validation.errors });
      const result = await createWorkspace(db, actorOf(request), validation.value);
      if (!result.ok)
        return reply
          .code(PAGE_STATUS[result.problem.kind])
          .render('workspaces/new', { values, errors: formErrorsOf(result.problem) });
      request.session.flash = { type: 'success', message: `Workspace ${result.value.friendlyName} created.` };
      return reply.redirect(`/admin/workspaces/${result.value.id}`, 303);
    },
  );

  app.get(
    '/admin/workspaces/:id',
    { schema: { params: WorkspaceParams }, config: { permission: 'images_view' }, preHandler: workspaceParam.load },
    async (request, reply) => renderShow(request, reply, workspaceParam.of(request)),
  );

  app.post(
    '/admin/workspaces/:id',
    {
      schema: { params: WorkspaceParams, body: WorkspaceForm },
      config: { permission: 'images_modify' },
      preHandler: workspaceParam.load,
    },
    async (request, reply) => {
      const workspace = workspaceParam.of(request);
      const values = {
        ...workspaceFormValues(null),
        ...request.body,
        enabled: request.body.enabled === undefined ? '' : 'on',
      };
      delete (values as { confirm?: string }).confirm;
      delete (values as { _csrf?: string })._csrf;
      const validation = validateWorkspace(request.body);
      if (!validation.ok) return renderShow(request, reply.code(422), workspace, { values, errors: validation.errors });
      if (workspace.enabled && !validation.value.enabled && request.body.confirm !== 'disable') {
        // Someone's default: say who before it stops being launchable.
        const references = await defaultImageReferences(db, workspace.id);
        if (references.users + references.groups > 0) {
          const message = `${workspace.friendlyName} is the Default Workspace Image of ${describeReferences(references)}. Once disabled it cannot be launched, and their default falls back to the next source (their groups, or none).`;
          return renderShow(request, reply.code(409), workspace, { values, confirmDisable: message });
        }
      }
      const result = await updateWorkspace(db, actorOf(request), workspace, validation.value);
      if (!result.ok)
        return renderShow(request, reply.code(PAGE_STATUS[result.problem.kind]), workspace, {
          values,
          errors: formErrorsOf(result.problem),
        });
      request.session.flash = { type: 'success', message: `Workspace ${result.value.friendlyName} saved.` };
      return reply.redirect(`/admin/workspaces/${workspace.id}`, 303);
    },
  );

  async function deleteSubject(workspace: Workspace) {
    const references = await defaultImageReferences(db, workspace.id);
    const fallback =
      references.users + references.groups > 0
        ? ` It is the Default Workspace Image of ${describeReferences(references)}: their default falls back to the next source.`
        : '';
    return {
      kind: 'workspace',
      name: workspace.friendlyName,
      listUrl: LIST.url,
      listLabel: LIST.label,
      itemUrl: `/admin/workspaces/${workspace.id}`,
      consequences: `The workspace and its file mappings are removed; recorded sessions keep their launch plans.${fallback}`,
    };
  }

  app.get(
    '/admin/workspaces/:id/delete',
    { schema: { params: WorkspaceParams }, config: { permission: 'images_delete' }, preHandler: workspaceParam.load },
    async (request, reply) => reply.confirmDelete(await deleteSubject(workspaceParam.of(request))),
  );

  app.post(
    '/admin/workspaces/:id/delete',
    {
      schema: { params: WorkspaceParams, body: EmptyForm },
      config: { permission: 'images_delete' },
      preHandler: workspaceParam.load,
    },
    async (request, reply) => {
      const workspace = workspaceParam.of(request);
      const result = await deleteWorkspace(db, actorOf(request), workspace);
      // Only not_found (deleted meanwhile): the same page as a missing :id.
      if (!result.ok) return reply.notFoundPage(MISSING.title, MISSING.message);
      request.session.flash = { type: 'success', message: `Workspace ${workspace.friendlyName} deleted.` };
      return reply.redirect(LIST.url, 303);
    },
  );

  await app.register(fileMappingRoutes, {
    kind: 'workspace',
    base: '/admin/workspaces/:id',
    view: 'images_view',
    modify: 'images_modify',
    async loadOwner(request, reply) {
      const workspace = await workspaceParam.loadOr404(request, reply);
      if (!workspace) return null;
      return {
        kind: 'workspace',
        id: workspace.id,
        name: workspace.friendlyName,
        url: `/admin/workspaces/${workspace.id}`,
        listLabel: LIST.label,
        listUrl: LIST.url,
      };
    },
  });
};

export default workspaceRoutes;
