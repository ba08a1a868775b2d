// The admin's pages for identity providers (docs/rules.md#realms): the list, an LDAP directory's
// form (from a preset), enable and disable, delete, Test (a user name looked up with the service
// account, nothing saved) and Sync now. auth_view sees them; every change, a test and a sync need
// auth_modify. The bind password is write-only: no page, fragment or message ever carries it.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import type { IdentityProvider } from '../db/schema.js';
import { entityLoader, PAGE_STATUS } from '../http/problems.js';
import { hasPermission } from '../security/permissions.js';
import { fieldErrorsOf, type Problem } from '../security/result.js';
import {
  EmptyForm,
  LdapProviderForm,
  NewLdapQuery,
  ProviderParams,
  ProviderTestForm,
  ProviderVersionForm,
} from '../schemas/identity-providers.js';
import { syncDirectory } from './directory-sync-commands.js';
import { testDirectoryLookup } from './directory-test.js';
import {
  createLdapProvider,
  deleteProvider,
  setProviderEnabled,
  updateLdapProvider,
} from './identity-providers-commands.js';
import { findIdentityProvider, listIdentityProviders } from './identity-providers-queries.js';
import type { LdapResult } from './ldap-directory.js';
import {
  ldapFormErrors,
  ldapFormValuesOf,
  ldapProviderInputOf,
  newLdapFormValues,
  PRESET_LABELS,
  PRESET_NAMES,
  typedLdapFormValues,
  withPreset,
  type LdapFormBody,
  type LdapFormValues,
} from './ldap-provider-form.js';

const LIST_URL = '/admin/auth';
const PRESETS = PRESET_NAMES.map((name) => ({ name, label: PRESET_LABELS[name] }));

/** What the Test section shows: the name typed, and the lookup's outcome or the reason it did not run. */
export interface TestState {
  username: string;
  result: LdapResult | null;
  error: string | null;
}

/** What the Sync section shows besides the last report: this sync's refusal, if any. */
interface SyncState {
  error: string | null;
}

const directoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;
  const box = app.secretBox;

  const MISSING = {
    title: 'Identity provider not found',
    message: 'This identity provider does not exist (any more).',
  };
  const providerParam = entityLoader(MISSING, (id) => findIdentityProvider(db, id));
  const urlOf = (provider: IdentityProvider) => `${LIST_URL}/${provider.id}`;

  /** A refused save's messages beside their fields (the Name when a message names none). */
  const formErrorsOf = (problem: Problem) =>
    ldapFormErrors(problem.field || problem.fields ? fieldErrorsOf(problem) : { name: problem.message });

  const testState = (username = ''): TestState => ({ username, result: null, error: null });

  function renderNew(reply: FastifyReply, values: LdapFormValues, errors: Record<string, string> = {}, note = '') {
    return reply.render('admin-auth/new', { values, errors, note, presets: PRESETS });
  }

  async function renderShow(
    request: FastifyRequest,
    reply: FastifyReply,
    provider: IdentityProvider,
    form: {
      values?: LdapFormValues;
      version?: number;
      errors?: Record<string, string>;
      formError?: string;
      note?: string;
      test?: TestState;
      sync?: SyncState;
    } = {},
  ) {
    const ldap = provider.kind === 'ldap';
    return reply.render('admin-auth/show', {
      provider,
      values: form.values ?? (ldap ? ldapFormValuesOf(provider) : null),
      version: form.version ?? provider.version,
      errors: form.errors ?? {},
      formError: form.formError ?? null,
      note: form.note ?? '',
      passwordSet: provider.secret !== null,
      canModify: hasPermission(request.currentUser!.permissions, 'auth_modify'),
      presets: PRESETS,
      test: form.test ?? testState(),
      sync: form.sync ?? { error: null },
    });
  }

  /** The password fields of a form: write-only, so they are read here and never shown again. */
  const passwordOf = (body: LdapFormBody) => ({
    bindPassword: body.bind_password ?? '',
    clearPassword: body.clear_password !== undefined,
  });

  app.get(LIST_URL, { config: { permission: 'auth_view' } }, async (_request, reply) =>
    reply.render('admin-auth/index', { rows: await listIdentityProviders(db) }),
  );

  app.get(
    `${LIST_URL}/ldap/new`,
    { schema: { querystring: NewLdapQuery }, config: { permission: 'auth_modify' } },
    async (request, reply) => renderNew(reply, newLdapFormValues(request.query.preset)),
  );

  app.post(
    `${LIST_URL}/ldap`,
    { schema: { body: LdapProviderForm }, config: { permission: 'auth_modify' } },
    async (request, reply) => {
      const typed = typedLdapFormValues(request.body);
      const { preset } = request.body;
      if (preset)
        return renderNew(reply, withPreset(typed, preset), {}, `${PRESET_LABELS[preset]} defaults filled in.`);
      const actor = actorOf(request);
      const result = await createLdapProvider(db, box, actor, ldapProviderInputOf(typed, passwordOf(request.body)));
      if (!result.ok) {
        if (result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited by the command
        return renderNew(reply.code(PAGE_STATUS[result.problem.kind]), typed, formErrorsOf(result.problem));
      }
      const created = result.value;
      let flash: { type: 'success' | 'error'; message: string } = {
        type: 'success',
        message: `Directory ${created.name} added, disabled: test it, then enable it.`,
      };
      if (typed.enabled) {
        const enabled = await setProviderEnabled(db, actor, created, created.version, true);
        flash = enabled.ok
          ? { type: 'success', message: `Directory ${created.name} added and enabled.` }
          : { type: 'error', message: `Directory ${created.name} added, but not enabled: ${enabled.problem.message}` };
      }
      request.session.flash = flash;
      return reply.redirect(urlOf(created), 303);
    },
  );

  app.get(
    `${LIST_URL}/:id`,
    { schema: { params: ProviderParams }, config: { permission: 'auth_view' }, preHandler: providerParam.load },
    async (request, reply) => renderShow(request, reply, providerParam.of(request)),
  );

  app.post(
    `${LIST_URL}/:id`,
    {
      schema: { params: ProviderParams, body: LdapProviderForm },
      config: { permission: 'auth_modify' },
      preHandler: providerParam.load,
    },
    async (request, reply) => {
      const provider = providerParam.of(request);
      const typed = typedLdapFormValues(request.body);
      const version = request.body.version === undefined ? provider.version : Number(request.body.version);
      const { preset } = request.body;
      if (preset)
        return renderShow(request, reply, provider, {
          values: withPreset(typed, preset),
          version,
          note: `${PRESET_LABELS[preset]} defaults filled in: review them, then save.`,
        });
      const actor = actorOf(request);
      const result = await updateLdapProvider(
        db,
        box,
        actor,
        provider,
        version,
        ldapProviderInputOf(typed, passwordOf(request.body)),
      );
      if (!result.ok) {
        const { problem } = result;
        if (problem.kind === 'forbidden') return reply.problemPage(problem); // audited by the command
        if (problem.kind === 'not_found') return reply.notFoundPage(MISSING.title, MISSING.message);
        const stale = problem.reason === 'stale';
        return renderShow(request, reply.code(PAGE_STATUS[problem.kind]), provider, {
          values: typed,
          version,
          errors: stale ? {} : formErrorsOf(problem),
          ...(stale ? { formError: problem.message } : {}),
        });
      }
      let saved = result.value;
      let flash: { type: 'success' | 'error'; message: string } = {
        type: 'success',
        message: `Directory ${saved.name} saved.`,
      };
      if (typed.enabled !== saved.enabled) {
        const toggled = await setProviderEnabled(db, actor, saved, saved.version, typed.enabled);
        if (toggled.ok) saved = toggled.value;
        else
          flash = {
            type: 'error',
            message: `Directory ${saved.name} saved, but not ${typed.enabled ? 'enabled' : 'disabled'}: ${toggled.problem.message}`,
          };
      }
      request.session.flash = flash;
      return reply.redirect(urlOf(saved), 303);
    },
  );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const)
    app.post(
      `${LIST_URL}/:id/${verb}`,
      {
        schema: { params: ProviderParams, body: ProviderVersionForm },
        config: { permission: 'auth_modify' },
        preHandler: providerParam.load,
      },
      async (request, reply) => {
        const provider = providerParam.of(request);
        const result = await setProviderEnabled(db, actorOf(request), provider, Number(request.body.version), enabled);
        if (!result.ok) {
          const { problem } = result;
          if (problem.kind === 'forbidden') return reply.problemPage(problem);
          if (problem.kind === 'not_found') return reply.notFoundPage(MISSING.title, MISSING.message);
          return renderShow(request, reply.code(PAGE_STATUS[problem.kind]), provider, { formError: problem.message });
        }
        request.session.flash = {
          type: 'success',
          message: `Directory ${provider.name} ${enabled ? 'enabled' : 'disabled'}.`,
        };
        return reply.redirect(urlOf(provider), 303);
      },
    );

  const deleteSubject = (provider: IdentityProvider) => ({
    kind: 'directory',
    name: provider.name,
    listUrl: LIST_URL,
    listLabel: 'Authentication',
    itemUrl: urlOf(provider),
    consequences:
      'Its users can no longer log in through it; their Roster accounts stay, unlinked from it, and so does the audit log.',
  });

  app.get(
    `${LIST_URL}/:id/delete`,
    { schema: { params: ProviderParams }, config: { permission: 'auth_modify' }, preHandler: providerParam.load },
    async (request, reply) => reply.confirmDelete(deleteSubject(providerParam.of(request))),
  );

  app.post(
    `${LIST_URL}/:id/delete`,
    {
      schema: { params: ProviderParams, body: EmptyForm },
      config: { permission: 'auth_modify' },
      preHandler: providerParam.load,
    },
    async (request, reply) => {
      const provider = providerParam.of(request);
      // The confirm page is one step: it deletes the provider as it is now.
      const result = await deleteProvider(db, actorOf(request), provider, provider.version);
      if (!result.ok) {
        if (result.problem.kind === 'not_found') return reply.notFoundPage(MISSING.title, MISSING.message);
        if (result.problem.kind === 'forbidden') return reply.problemPage(result.problem);
        return reply.code(PAGE_STATUS[result.problem.kind]).confirmDelete(deleteSubject(provider), result.problem);
      }
      request.session.flash = { type: 'success', message: `Directory ${provider.name} deleted.` };
      return reply.redirect(LIST_URL, 303);
    },
  );

  // Test: JavaScript off answers the whole page with the result; htmx swaps the Test section.
  app.post(
    `${LIST_URL}/:id/test`,
    {
      schema: { params: ProviderParams, body: ProviderTestForm },
      config: { permission: 'auth_modify' },
      preHandler: providerParam.load,
    },
    async (request, reply) => {
      const provider = providerParam.of(request);
      const username = request.body.username ?? '';
      const result = await testDirectoryLookup(db, box, actorOf(request), provider, username);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem);
      const test: TestState = result.ok
        ? { username, result: result.value, error: null }
        : { username, result: null, error: result.problem.message };
      reply.code(result.ok ? 200 : PAGE_STATUS[result.problem.kind]).header('Vary', 'HX-Request');
      if (request.wantsFragment()) return reply.render('admin-auth/_test', { provider, test });
      return renderShow(request, reply, provider, { test });
    },
  );

  // Sync now: JavaScript off answers a redirect to the page (the report on it, and a flash); htmx
  // swaps the Sync section with the new report.
  app.post(
    `${LIST_URL}/:id/sync`,
    {
      schema: { params: ProviderParams, body: EmptyForm },
      config: { permission: 'auth_modify' },
      preHandler: providerParam.load,
    },
    async (request, reply) => {
      const provider = providerParam.of(request);
      const result = await syncDirectory(db, box, actorOf(request), provider.id, app.now());
      reply.header('Vary', 'HX-Request');
      if (!result.ok) {
        const { problem } = result;
        if (problem.kind === 'forbidden') return reply.problemPage(problem);
        if (problem.kind === 'not_found') return reply.notFoundPage(MISSING.title, MISSING.message);
        const sync = { error: problem.message };
        reply.code(PAGE_STATUS[problem.kind]);
        if (request.wantsFragment()) return reply.render('admin-auth/_sync', { provider, sync, canModify: true });
        return renderShow(request, reply, provider, { sync });
      }
      const synced = (await findIdentityProvider(db, provider.id)) ?? provider;
      if (request.wantsFragment())
        return reply.render('admin-auth/_sync', { provider: synced, sync: { error: null }, canModify: true });
      const report = result.value;
      request.session.flash =
        report.outcome === 'completed'
          ? {
              type: 'success',
              message: `Sync of ${provider.name} completed: ${report.seen} seen, ${report.updated} updated, ${report.disabled} disabled, ${report.enabled} enabled, ${report.errors} errors.`,
            }
          : { type: 'error', message: `Sync of ${provider.name} failed: ${report.message}` };
      return reply.redirect(`${urlOf(provider)}#sync`, 303);
    },
  );
};

export default directoryRoutes;
