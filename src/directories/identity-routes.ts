// Linking a user to a directory entry and unlinking them back to local, from the user's page
// (docs/rules.md#linking-a-user-to-a-directory). Plain pages: look up, confirm, link.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { actorOf } from '../audit/audit-log.js';
import { entityLoader } from '../http/problems.js';
import { fieldErrorsOf } from '../security/result.js';
import {
  IdentityLinkForm,
  IdentityLookupQuery,
  IdentityUnlinkForm,
  UserIdentityParams,
} from '../schemas/identities.js';
import { UserParams } from '../schemas/users.js';
import { directoryChoices, findUserById, identitiesOfUser } from '../users/users-queries.js';
import { linkDirectoryIdentity, lookUpDirectoryEntry, unlinkDirectoryIdentity } from './identity-link-commands.js';

const identityRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = app.db;
  const userParam = entityLoader({ title: 'User not found', message: 'This user does not exist (any more).' }, (id) =>
    findUserById(db, id),
  );
  const crumbs = (user: { id: string; username: string }) => [
    ['/admin/users', 'Users'],
    [`/admin/users/${user.id}`, user.username],
  ];

  // Looking up is a read (nothing saved): the page shows the entry and asks to link it.
  app.get(
    '/admin/users/:id/identity/lookup',
    {
      schema: { params: UserParams, querystring: IdentityLookupQuery },
      config: { permission: 'users_modify' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      const providerId = request.query.provider_id ?? '';
      const name = request.query.name ?? '';
      const page = {
        user,
        crumbs: crumbs(user),
        directories: await directoryChoices(db),
        values: { providerId, name },
      };
      if (!providerId && !name) return reply.render('users/identity-lookup', { ...page, errors: {}, found: null });
      const looked = await lookUpDirectoryEntry(db, app.secretBox, actorOf(request), user, providerId, name);
      if (!looked.ok && looked.problem.kind === 'forbidden') return reply.problemPage(looked.problem);
      if (!looked.ok)
        return reply
          .code(422)
          .render('users/identity-lookup', { ...page, errors: { name: looked.problem.message }, found: null });
      return reply.render('users/identity-lookup', { ...page, errors: {}, found: looked.value });
    },
  );

  app.post(
    '/admin/users/:id/identity',
    {
      schema: { params: UserParams, body: IdentityLinkForm },
      config: { permission: 'users_modify' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      const { provider_id: providerId, name, subject } = request.body;
      const result = await linkDirectoryIdentity(db, app.secretBox, actorOf(request), {
        userId: user.id,
        providerId,
        name,
        expectedSubject: subject,
        nowMs: app.now(),
      });
      if (!result.ok) {
        if (result.problem.kind === 'forbidden' || result.problem.kind === 'not_found')
          return reply.problemPage(result.problem);
        return reply.code(result.problem.kind === 'conflict' ? 409 : 422).render('users/identity-lookup', {
          user,
          crumbs: crumbs(user),
          directories: await directoryChoices(db),
          values: { providerId, name },
          errors: { name: fieldErrorsOf(result.problem).name ?? result.problem.message },
          found: null,
        });
      }
      request.session.flash = {
        type: 'success',
        message: `${user.username} is now linked to the directory entry ${name}.`,
      };
      return reply.redirect(`/admin/users/${user.id}#identity`, 303);
    },
  );

  const identityOf = async (userId: string, identityId: string) =>
    (await identitiesOfUser(db, userId)).find((identity) => identity.id === identityId);

  app.get(
    '/admin/users/:id/identity/:identityId/unlink',
    { schema: { params: UserIdentityParams }, config: { permission: 'users_modify' }, preHandler: userParam.load },
    async (request, reply) => {
      const user = userParam.of(request);
      const identity = await identityOf(user.id, request.params.identityId);
      if (!identity) return reply.notFoundPage('Identity not found', 'This identity is no longer linked to the user.');
      return reply.render('users/identity-unlink', {
        user,
        identity,
        crumbs: crumbs(user),
        errors: {},
        minLength: app.config.passwordMinLength,
      });
    },
  );

  app.post(
    '/admin/users/:id/identity/:identityId/unlink',
    {
      schema: { params: UserIdentityParams, body: IdentityUnlinkForm },
      config: { permission: 'users_modify' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      const identity = await identityOf(user.id, request.params.identityId);
      if (!identity) return reply.notFoundPage('Identity not found', 'This identity is no longer linked to the user.');
      const password = request.body.password ?? '';
      const again = (errors: Record<string, string>) =>
        reply.code(422).render('users/identity-unlink', {
          user,
          identity,
          crumbs: crumbs(user),
          errors,
          minLength: app.config.passwordMinLength,
        });
      if (password !== (request.body.password_confirm ?? ''))
        return again({ password_confirm: 'The two passwords differ.' });
      const result = await unlinkDirectoryIdentity(db, actorOf(request), {
        userId: user.id,
        identityId: identity.id,
        password,
        passwordMinLength: app.config.passwordMinLength,
      });
      if (!result.ok) {
        if (result.problem.kind === 'invalid') return again(fieldErrorsOf(result.problem));
        return reply.problemPage(result.problem);
      }
      request.session.flash = {
        type: 'success',
        message: `${user.username} is now a local user with the password you set; ${identity.providerName} no longer logs them in.`,
      };
      return reply.redirect(`/admin/users/${user.id}#identity`, 303);
    },
  );
};

export default identityRoutes;
