// The admin's pages for Developer API keys (docs/rules.md#developer-api): list, add (the secret shown once), edit,
// permissions, delete.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import type { ApiKey } from '../db/schema.js';
import { entityLoader, PAGE_STATUS } from '../http/problems.js';
import { hasPermission, permissionPanel, permissionsLacking, requestedPermissions } from '../security/permissions.js';
import { fieldErrorsOf, type Problem } from '../security/result.js';
import { ApiKeyForm, ApiKeyParams, EmptyForm, PermissionsForm } from '../schemas/api-keys.js';
import { apiKeyFormValues, validateApiKey, type ApiKeyFormBody } from './api-key-validation.js';
import { createApiKey, deleteApiKey, setApiKeyPermissions, updateApiKey } from './api-keys-commands.js';
import { findApiKey, listApiKeys, permissionsOfApiKey } from './api-keys-queries.js';

const LIST_URL = '/admin/api-keys';

/** The form's values as typed (checkboxes as 'on' or ''), to show again with the errors. */
function typedValues(body: ApiKeyFormBody): Required<ApiKeyFormBody> {
  return {
    name: body.name ?? '',
    expires: body.expires ?? '',
    read_only: body.read_only === undefined ? '' : 'on',
    enabled: body.enabled === undefined ? '' : 'on',
  };
}

const apiKeyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;
  const now = () => new Date(app.now());

  const MISSING = { title: 'API key not found', message: 'This API key does not exist (any more).' };
  const keyParam = entityLoader(MISSING, (id) => findApiKey(db, id));

  /** A refused save: the form again, the message beside its field (the Name unless it says). */
  const formErrorsOf = (problem: Problem) =>
    problem.field || problem.fields ? fieldErrorsOf(problem) : { name: problem.message };

  async function renderShow(
    request: FastifyRequest,
    reply: FastifyReply,
    apiKey: ApiKey,
    form: { values?: Required<ApiKeyFormBody>; errors?: Record<string, string>; permissionError?: string } = {},
  ) {
    const actor = request.currentUser!;
    const canModify = hasPermission(actor.permissions, 'devapi_modify');
    const permissions = await permissionsOfApiKey(db, apiKey.id);
    return reply.render('api-keys/show', {
      apiKey,
      expired: apiKey.expiresAt !== null && apiKey.expiresAt.getTime() <= app.now(),
      values: form.values ?? apiKeyFormValues(apiKey),
      errors: form.errors ?? {},
      permissionError: form.permissionError ?? null,
      canModify,
      // The fields of a key holding a permission the actor lacks are theirs to see, not to change.
      fieldsNeed: canModify ? permissionsLacking(actor.permissions, permissions) : [],
      canModifyFields: canModify && permissionsLacking(actor.permissions, permissions).length === 0,
      canDelete: hasPermission(actor.permissions, 'devapi_delete'),
      permissionSections: permissionPanel(permissions, actor.permissions),
    });
  }

  app.get(LIST_URL, { config: { permission: 'devapi_view' } }, async (_request, reply) =>
    reply.render('api-keys/index', { rows: await listApiKeys(db), now: app.now() }),
  );

  app.get(`${LIST_URL}/new`, { config: { permission: 'devapi_create' } }, async (_request, reply) =>
    reply.render('api-keys/new', { values: apiKeyFormValues(null), errors: {} }),
  );

  // The secret exists only in this response: the page shows it once, and the database keeps its hash.
  app.post(
    LIST_URL,
    { schema: { body: ApiKeyForm }, config: { permission: 'devapi_create' } },
    async (request, reply) => {
      const values = typedValues(request.body);
      const validation = validateApiKey(request.body, now());
      if (!validation.ok) return reply.code(422).render('api-keys/new', { values, errors: validation.errors });
      const result = await createApiKey(db, actorOf(request), { ...validation.value, enabled: true }); // a new key starts enabled
      if (!result.ok)
        return reply
          .code(PAGE_STATUS[result.problem.kind])
          .render('api-keys/new', { values, errors: formErrorsOf(result.problem) });
      return reply
        .code(201)
        .render('api-keys/created', { apiKey: result.value.apiKey, credentials: result.value.credentials });
    },
  );

  app.get(
    `${LIST_URL}/:id`,
    { schema: { params: ApiKeyParams }, config: { permission: 'devapi_view' }, preHandler: keyParam.load },
    async (request, reply) => renderShow(request, reply, keyParam.of(request)),
  );

  app.post(
    `${LIST_URL}/:id`,
    {
      schema: { params: ApiKeyParams, body: ApiKeyForm },
      config: { permission: 'devapi_modify' },
      preHandler: keyParam.load,
    },
    async (request, reply) => {
      const apiKey = keyParam.of(request);
      const values = typedValues(request.body);
      const validation = validateApiKey(request.body, now(), apiKey.expiresAt);
      if (!validation.ok) return renderShow(request, reply.code(422), apiKey, { values, errors: validation.errors });
      const result = await updateApiKey(db, actorOf(request), apiKey, validation.value);
      if (!result.ok) {
        const { problem } = result;
        if (problem.kind === 'not_found') return reply.notFoundPage(MISSING.title, MISSING.message);
        if (problem.kind === 'forbidden') return reply.problemPage(problem); // audited by the command
        return renderShow(request, reply.code(PAGE_STATUS[problem.kind]), apiKey, {
          values,
          errors: formErrorsOf(problem),
        });
      }
      request.session.flash = { type: 'success', message: `API key ${result.value.name} saved.` };
      return reply.redirect(`${LIST_URL}/${apiKey.id}`, 303);
    },
  );

  app.post(
    `${LIST_URL}/:id/permissions`,
    {
      schema: { params: ApiKeyParams, body: PermissionsForm },
      config: { permission: 'devapi_modify' },
      preHandler: keyParam.load,
    },
    async (request, reply) => {
      const apiKey = keyParam.of(request);
      const actor = actorOf(request);
      const wanted = requestedPermissions(
        request.body.permission ?? [],
        await permissionsOfApiKey(db, apiKey.id),
        actor.permissions,
      );
      const result = await setApiKeyPermissions(db, actor, apiKey, wanted);
      if (!result.ok) {
        if (result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited by the command
        return renderShow(request, reply.code(PAGE_STATUS[result.problem.kind]), apiKey, {
          permissionError: result.problem.message,
        });
      }
      request.session.flash = { type: 'success', message: `Permissions of API key ${apiKey.name} saved.` };
      return reply.redirect(`${LIST_URL}/${apiKey.id}#permissions`, 303);
    },
  );

  const deleteSubject = (apiKey: ApiKey) => ({
    kind: 'API key',
    name: apiKey.name,
    listUrl: LIST_URL,
    listLabel: 'API Keys',
    itemUrl: `${LIST_URL}/${apiKey.id}`,
    consequences: 'Scripts using this key are refused from their next call.',
  });

  app.get(
    `${LIST_URL}/:id/delete`,
    { schema: { params: ApiKeyParams }, config: { permission: 'devapi_delete' }, preHandler: keyParam.load },
    async (request, reply) => reply.confirmDelete(deleteSubject(keyParam.of(request))),
  );

  app.post(
    `${LIST_URL}/:id/delete`,
    {
      schema: { params: ApiKeyParams, body: EmptyForm },
      config: { permission: 'devapi_delete' },
      preHandler: keyParam.load,
    },
    async (request, reply) => {
      const apiKey = keyParam.of(request);
      const result = await deleteApiKey(db, actorOf(request), apiKey);
      // Only not_found (deleted meanwhile): the same page as a missing :id.
      if (!result.ok) return reply.notFoundPage(MISSING.title, MISSING.message);
      request.session.flash = { type: 'success', message: `API key ${apiKey.name} deleted.` };
      return reply.redirect(LIST_URL, 303);
    },
  );
};

export default apiKeyRoutes;
