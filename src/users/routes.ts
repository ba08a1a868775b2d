import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Static } from 'typebox';
import { actorOf } from '../audit/audit-log.js';
import { logOutEverywhere } from '../sessions/sessions-commands.js';
import { hasPermission } from '../security/permissions.js';
import { fieldErrorsOf, forbidden } from '../security/result.js';
import { entityLoader, PAGE_STATUS } from '../http/problems.js';
import { REALMS, type User } from '../db/schema.js';
import { decodeCursor, encodeCursor } from '../db/sql-helpers.js';
import { canModifyGroup, canViewGroup } from '../groups/group-access.js';
import { changeMembership } from '../groups/groups-commands.js';
import { findGroup, groupChoices, groupsWithSettingsOfUser } from '../groups/groups-queries.js';
import { joiningQuestion } from '../groups/membership-confirm.js';
import { refuseReachingUser } from '../groups/stronger-users.js';
import { formatSettingValue, SETTINGS } from '../settings/catalogue.js';
import { describeSource } from '../settings/effective-settings.js';
import { parseUserSetting, userSettingByKey } from '../settings/user-settings.js';
import { listMappings } from '../file-mappings/file-mappings-queries.js';
import fileMappingRoutes, { mappingListView } from '../file-mappings/routes.js';
import { workspaceSessionsOfUser } from '../workspaces/workspace-sessions-queries.js';
import { ConfirmForm, EmptyForm } from '../schemas/common.js';
import { twoFactorPolicyOf, type TwoFactorPolicy } from '../settings/two-factor-policy.js';
import { UserDefaultImageForm } from '../schemas/workspaces.js';
import {
  AddToGroupForm,
  UserEditForm,
  UserForm,
  UserGroupParams,
  UserListQuery as UserListQuerySchema,
  UserParams,
} from '../schemas/users.js';
import {
  directoryChoices,
  findUserById,
  identitiesOfUser,
  listUsers,
  mayChangeUser,
  type UserListQuery,
} from './users-queries.js';
import { effectiveSettingsOfUser } from './user-settings-queries.js';
import { saveUserSetting } from './user-settings-commands.js';
import { workspaceCatalogue } from '../workspaces/workspaces-queries.js';
import {
  afterTwoFactorReset,
  createUser,
  deleteUser,
  hasSecondFactor,
  refuseStrongerUser,
  resetTwoFactor,
  updateUser,
} from './users-commands.js';
import { formValuesFrom, formValuesOf, validateUser, type UserFormValues } from './user-validation.js';

const PER_PAGE_CHOICES = [25, 50, 100];

type Flash = NonNullable<FastifyRequest['session']['flash']>;

/** The list's query string (already checked by its schema), with defaults filled in. */
export function parseListQuery(params: Static<typeof UserListQuerySchema>): UserListQuery {
  return {
    search: params.q ?? '',
    sort: params.sort ?? 'username',
    direction: params.dir ?? 'asc',
    page: params.page ?? 1,
    perPage: params.per_page !== undefined && PER_PAGE_CHOICES.includes(params.per_page) ? params.per_page : 25,
    realm: params.realm || undefined,
    status: params.status || undefined,
    groupId: params.group || undefined,
    after: decodeCursor(params.after),
    before: params.after ? undefined : decodeCursor(params.before),
  };
}

function listUrl(query: UserListQuery): string {
  const params = new URLSearchParams();
  if (query.search) params.set('q', query.search);
  if (query.sort !== 'username') params.set('sort', query.sort);
  if (query.direction !== 'asc') params.set('dir', query.direction);
  if (query.page > 1) params.set('page', String(query.page));
  if (query.perPage !== 25) params.set('per_page', String(query.perPage));
  if (query.realm) params.set('realm', query.realm);
  if (query.status) params.set('status', query.status);
  if (query.groupId) params.set('group', query.groupId);
  if (query.after) params.set('after', encodeCursor(query.after));
  else if (query.before) params.set('before', encodeCursor(query.before));
  const search = params.toString();
  return search ? `/admin/users?${search}` : '/admin/users';
}

/** What the confirm step before deleting a user names. */
const deleteSubject = (user: Pick<User, 'id' | 'username'>) => ({
  kind: 'user',
  name: user.username,
  listUrl: '/admin/users',
  listLabel: 'Users',
  itemUrl: `/admin/users/${user.id}`,
  consequences: 'The user, their group memberships and their sessions are removed.',
});

/**
 * The confirm steps of the user page's Actions: the page's hx-confirm question (JavaScript on)
 * and the confirm page (off) both come from here, so they ask the same.
 */
export const userConfirms = {
  reset2fa: (user: Pick<User, 'id' | 'username'>, policy: TwoFactorPolicy) => ({
    question: `Reset two-factor authentication of ${user.username}?`,
    consequences: `Their second factor is removed, with its recovery codes. ${afterTwoFactorReset(policy)}`,
    action: `/admin/users/${user.id}/reset-2fa`,
    label: 'Reset Two Factor Authentication',
  }),
  logout: (user: Pick<User, 'id' | 'username'>) => ({
    question: `Log out ${user.username} everywhere?`,
    consequences:
      'Every login session of theirs ends at once; they must log in again on each device. Their workspace sessions keep running.',
    action: `/admin/users/${user.id}/logout`,
    label: 'Log Out Everywhere',
  }),
};

const userRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const formData = { realms: REALMS, minLength: config.passwordMinLength };

  const userParam = entityLoader({ title: 'User not found', message: 'This user does not exist (any more).' }, (id) =>
    findUserById(db, id),
  );

  async function renderShow(
    request: FastifyRequest,
    reply: FastifyReply,
    user: User,
    form: {
      values?: UserFormValues;
      errors?: Record<string, string>;
      formError?: string;
      version?: number;
      defaultImageError?: string;
    } = {},
  ) {
    const actor = request.currentUser;
    const touchable = actor !== null && (await mayChangeUser(db, actor.permissions, user));
    // The same resolver as the profile's (the user's own values first); its read of the user's
    // groups also serves their group list.
    const [resolved, allGroups, mappings, launches, identities, directories] = await Promise.all([
      effectiveSettingsOfUser(db, user.id),
      groupChoices(db),
      listMappings(db, { kind: 'user', id: user.id }),
      workspaceSessionsOfUser(db, user.id),
      identitiesOfUser(db, user.id),
      directoryChoices(db),
    ]);
    const memberOf = resolved.groups;
    const memberIds = new Set(memberOf.map((g) => g.id));
    const effective = resolved.settings;
    const canModify = touchable && actor !== null && hasPermission(actor.permissions, 'users_modify');
    const ownImage = resolved.own.default_image;
    const twoFactor = twoFactorPolicyOf(memberOf);
    return reply.render('users/show', {
      ...formData,
      user,
      groups: memberOf.map((g) => ({
        ...g,
        canRemove: actor !== null && g.systemKey !== 'all_users' && canModifyGroup(actor, g),
      })),
      addableGroups: actor
        ? allGroups.filter((g) => !memberIds.has(g.id) && canViewGroup(actor, g) && canModifyGroup(actor, g))
        : [],
      effective: SETTINGS.map((setting) => {
        const { value, source } = effective.get(setting.key)!;
        return {
          label: setting.label,
          key: setting.key,
          json: setting.type === 'json',
          display: formatSettingValue(setting, value, resolved.workspaces.names),
          source: describeSource(source),
        };
      }),
      defaultImage: {
        choices: resolved.workspaces.choices,
        own: ownImage !== undefined,
        value: typeof ownImage === 'string' ? ownImage : '',
        error: form.defaultImageError ?? null,
      },
      workspaceChoices: resolved.workspaces.choices,
      mappings: mappingListView({ url: `/admin/users/${user.id}` }, mappings, canModify),
      launches,
      values: form.values ?? formValuesOf(user),
      errors: form.errors ?? {},
      formError: form.formError ?? null,
      version: form.version ?? user.version,
      canModify,
      identities,
      directories,
      canLink: canModify && hasPermission(actor.permissions, 'auth_view'),
      canDelete: touchable && actor !== null && hasPermission(actor.permissions, 'users_delete'),
      canOpenSessions: actor !== null && hasPermission(actor.permissions, 'users_auth_session'),
      // Logging out or ending sessions of a stronger user needs users_modify_admin, as changing them does.
      canLogout: touchable && actor !== null && hasPermission(actor.permissions, 'users_auth_session'),
      hasSecondFactor: hasSecondFactor(user),
      afterTwoFactorReset: afterTwoFactorReset(twoFactor),
      confirms: { reset2fa: userConfirms.reset2fa(user, twoFactor), logout: userConfirms.logout(user) },
    });
  }

  const crumbsOf = (user: User) => [
    ['/admin/users', 'Users'],
    [`/admin/users/${user.id}`, user.username],
  ];

  /** The confirm page of reset-2fa, or (refused, or no factor to reset) what to show instead. */
  async function confirmResetTwoFactor(request: FastifyRequest, reply: FastifyReply, user: User) {
    const refused = await refuseStrongerUser(db, actorOf(request), user);
    if (refused) return reply.problemPage(refused.problem); // audited
    if (!hasSecondFactor(user)) return noFactorToReset(request, reply, user);
    const policy = twoFactorPolicyOf(await groupsWithSettingsOfUser(db, user.id));
    return reply.render('confirm-step', {
      ...userConfirms.reset2fa(user, policy),
      cancelUrl: `/admin/users/${user.id}#actions`,
      crumbs: crumbsOf(user),
    });
  }

  function noFactorToReset(request: FastifyRequest, reply: FastifyReply, user: User) {
    request.session.flash = { type: 'info', message: `${user.username} had no second factor; nothing to reset.` };
    return reply.redirect(`/admin/users/${user.id}`, 303);
  }

  /** The confirm page of Log Out Everywhere (refused for a stronger user, audited). */
  async function confirmLogout(request: FastifyRequest, reply: FastifyReply, user: User) {
    const refused = await refuseReachingUser(db, actorOf(request), user, `Logging out ${user.username}`);
    if (refused) return reply.problemPage(forbidden(refused.message).problem); // audited by the check
    return reply.render('confirm-step', {
      ...userConfirms.logout(user),
      cancelUrl: `/admin/users/${user.id}#actions`,
      crumbs: crumbsOf(user),
    });
  }

  /**
   * The users list at `query`: the whole page, or to htmx the table section alone — for the list's
   * own requests and for the answers of row actions taken in place, so that after either the
   * section shows what a fresh load of its address would. `message` is shown in the section.
   */
  async function renderUserList(
    request: FastifyRequest,
    reply: FastifyReply,
    query: UserListQuery,
    message: Flash | undefined,
  ) {
    // The group filter's choices are part of the page, not of the section htmx swaps in.
    const [list, groupsToFilter] = await Promise.all([
      listUsers(db, query),
      request.wantsFragment() ? [] : groupChoices(db),
    ]);
    const pages = Math.max(1, Math.ceil(list.total / query.perPage));
    // A page past the end (an old link, a typed number, the last row of the last page deleted)
    // shows the last page there is.
    if (list.rows.length === 0 && query.page > pages && !list.capped && !query.after && !query.before) {
      const last = { ...query, page: pages };
      if (request.method === 'GET') return reply.redirect(listUrl(last), 303);
      return renderUserList(request, reply, last, message);
    }
    // An action answered in place keeps the address bar on the list it shows.
    if (request.method !== 'GET') reply.header('HX-Replace-Url', listUrl(query));
    return reply.renderPageOrFragment('users/index', 'users/_table', {
      query,
      ...list,
      pages,
      perPageChoices: PER_PAGE_CHOICES,
      realms: REALMS,
      groupsToFilter,
      listUrl,
      listMessage: message,
    });
  }

  app.get(
    '/admin/users',
    { schema: { querystring: UserListQuerySchema }, config: { permission: 'users_view' } },
    async (request, reply) => {
      // The message of an action that came back to the list belongs in its section, not at the top.
      const message = request.session.flash;
      if (message) delete request.session.flash;
      return renderUserList(request, reply, parseListQuery(request.query), message);
    },
  );

  app.get('/admin/users/new', { config: { permission: 'users_create' } }, async (_request, reply) => {
    return reply.render('users/new', { ...formData, values: formValuesFrom({}), errors: {} });
  });

  app.post(
    '/admin/users',
    { schema: { body: UserForm }, config: { permission: 'users_create' } },
    async (request, reply) => {
      const validation = validateUser(request.body, { mode: 'create', passwordMinLength: config.passwordMinLength });
      const values = formValuesFrom(request.body);
      if (!validation.ok)
        return reply.code(422).render('users/new', { ...formData, values, errors: validation.errors });
      const result = await createUser(db, actorOf(request), validation.user, validation.password);
      if (!result.ok && result.problem.kind === 'forbidden')
        return reply
          .code(403)
          .render('users/new', { ...formData, values, errors: {}, formError: result.problem.message });
      if (!result.ok) {
        return reply
          .code(PAGE_STATUS[result.problem.kind])
          .render('users/new', { ...formData, values, errors: fieldErrorsOf(result.problem) });
      }
      request.session.flash = { type: 'success', message: `User ${result.value.username} created.` };
      return reply.redirect(`/admin/users/${result.value.id}`, 303);
    },
  );

  app.get(
    '/admin/users/:id',
    { schema: { params: UserParams }, config: { permission: 'users_view' }, preHandler: userParam.load },
    async (request, reply) => renderShow(request, reply, userParam.of(request)),
  );

  app.post(
    '/admin/users/:id',
    {
      schema: { params: UserParams, body: UserEditForm },
      config: { permission: 'users_modify' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      const values = formValuesFrom(request.body);
      const version = request.body.version;
      const validation = validateUser(request.body, {
        mode: 'update',
        passwordMinLength: config.passwordMinLength,
        hasPassword: user.passwordHash !== null,
      });
      if (!validation.ok) {
        reply.code(422);
        return renderShow(request, reply, user, { values, errors: validation.errors, version });
      }
      const result = await updateUser(db, actorOf(request), user.id, version, validation.user, validation.password);
      if (!result.ok) {
        const { problem } = result;
        if (problem.kind === 'not_found') return reply.notFoundPage('User not found', problem.message);
        if (problem.kind === 'forbidden') return reply.problemPage(problem); // the command audited it
        reply.code(PAGE_STATUS[problem.kind]);
        if (problem.reason === 'duplicate_username')
          return renderShow(request, reply, user, { values, errors: fieldErrorsOf(problem) });
        // stale or last admin: keep what was typed, but base the next save on the current version
        const current = (await findUserById(db, user.id)) ?? user;
        return renderShow(request, reply, current, { values, errors: {}, formError: problem.message });
      }
      request.session.flash = { type: 'success', message: `User ${result.value.username} saved.` };
      return reply.redirect(`/admin/users/${user.id}`, 303);
    },
  );

  app.get(
    '/admin/users/:id/reset-2fa',
    { schema: { params: UserParams }, config: { permission: 'users_modify' }, preHandler: userParam.load },
    async (request, reply) => confirmResetTwoFactor(request, reply, userParam.of(request)),
  );

  app.post(
    '/admin/users/:id/reset-2fa',
    {
      schema: { params: UserParams, body: ConfirmForm },
      config: { permission: 'users_modify' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      if (request.body.confirm !== 'yes') return confirmResetTwoFactor(request, reply, user);
      const result = await resetTwoFactor(db, actorOf(request), user.id);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited
      if (result.ok && !result.value.hadFactor) return noFactorToReset(request, reply, user);
      const after = result.ok
        ? afterTwoFactorReset(twoFactorPolicyOf(await groupsWithSettingsOfUser(db, user.id)))
        : '';
      request.session.flash = result.ok
        ? { type: 'success', message: `Two-factor authentication of ${user.username} was reset. ${after}` }
        : { type: 'error', message: result.problem.message };
      return reply.redirect(`/admin/users/${user.id}`, 303);
    },
  );

  app.get(
    '/admin/users/:id/delete',
    { schema: { params: UserParams }, config: { permission: 'users_delete' }, preHandler: userParam.load },
    async (request, reply) => reply.confirmDelete(deleteSubject(userParam.of(request))),
  );

  // Row actions taken in place (public/js/row-actions.js) post with the list's query: the answer
  // is then the table section at that query, with the outcome as its message.
  app.post(
    '/admin/users/:id/delete',
    {
      schema: { params: UserParams, querystring: UserListQuerySchema, body: EmptyForm },
      config: { permission: 'users_delete' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      const result = await deleteUser(db, actorOf(request), user.id);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited
      if (!result.ok) {
        // The row stays, and the section says why.
        if (request.wantsFragment())
          return renderUserList(request, reply.code(PAGE_STATUS[result.problem.kind]), parseListQuery(request.query), {
            type: 'error',
            message: result.problem.message,
          });
        return reply.confirmDelete(deleteSubject(user), result.problem);
      }
      if (user.id === request.currentUser!.id) {
        // Deleted their own account: its sessions went with it, this one included.
        await request.session.destroy();
        return request.wantsFragment() ? reply.header('HX-Redirect', '/login').send('') : reply.redirect('/login', 303);
      }
      const message = { type: 'success', message: `User ${user.username} deleted.` } as const;
      if (request.wantsFragment()) return renderUserList(request, reply, parseListQuery(request.query), message);
      request.session.flash = message;
      return reply.redirect('/admin/users#users-table', 303);
    },
  );

  // The user's groups, from the user's side: the same command as on the group page.
  async function membershipChange(
    request: FastifyRequest,
    reply: FastifyReply,
    groupId: string,
    change: 'add' | 'remove',
    confirmed = false,
  ) {
    const actor = request.currentUser!;
    const user = userParam.of(request);
    if (groupId === '') {
      request.session.flash = { type: 'error', message: 'Choose a group to add the user to.' };
      return renderShow(request, reply.code(422), user);
    }
    const group = await findGroup(db, groupId);
    if (!group || !canViewGroup(actor, group)) {
      // A group the actor may not see does not exist for them, as on the group pages.
      return reply.notFoundPage('Group not found', 'This group does not exist (any more).');
    }
    const question =
      change === 'add' && !confirmed && canModifyGroup(actor, group)
        ? await joiningQuestion(db, actor, group, user.username)
        : null;
    if (question) {
      return reply.render('confirm-step', {
        ...question,
        action: `/admin/users/${user.id}/groups`,
        fields: { group_id: group.id },
        cancelUrl: `/admin/users/${user.id}#groups`,
      });
    }
    const result = await changeMembership(db, actorOf(request), group, user, change);
    if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited
    request.session.flash = result.ok
      ? {
          type: 'success',
          message:
            change === 'add'
              ? `${user.username} added to ${group.name}.`
              : `${user.username} removed from ${group.name}.`,
        }
      : { type: 'error', message: result.problem.message };
    if (!result.ok) reply.code(PAGE_STATUS[result.problem.kind]);
    return result.ok ? reply.redirect(`/admin/users/${user.id}#groups`, 303) : renderShow(request, reply, user);
  }

  const MEMBERSHIP = { permission: ['groups_modify', 'groups_modify_ifmember'] } as const;

  app.post(
    '/admin/users/:id/groups',
    { schema: { params: UserParams, body: AddToGroupForm }, config: MEMBERSHIP, preHandler: userParam.load },
    async (request, reply) =>
      membershipChange(request, reply, request.body.group_id, 'add', request.body.confirm === 'yes'),
  );

  app.post(
    '/admin/users/:id/groups/:groupId/remove',
    { schema: { params: UserGroupParams, body: EmptyForm }, config: MEMBERSHIP, preHandler: userParam.load },
    async (request, reply) => membershipChange(request, reply, request.params.groupId, 'remove'),
  );

  // An admin choosing the user's Default Workspace Image (the profile setting, set for them).
  app.post(
    '/admin/users/:id/default-image',
    {
      schema: { params: UserParams, body: UserDefaultImageForm },
      config: { permission: 'users_modify' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      const refused = await refuseStrongerUser(db, actorOf(request), user);
      if (refused) return reply.problemPage(refused.problem); // audited
      const setting = userSettingByKey('default_image')!;
      const reset = request.body.action === 'reset';
      const workspaces = await workspaceCatalogue(db);
      const parsed = reset
        ? null
        : parseUserSetting(setting, request.body.value ?? '', (id) => workspaces.usable.has(id));
      if (parsed && !parsed.ok) return renderShow(request, reply.code(422), user, { defaultImageError: parsed.error });
      await saveUserSetting(db, actorOf(request), user, setting.key, parsed ? parsed.value : undefined);
      request.session.flash = {
        type: 'success',
        message: reset
          ? `${user.username}'s Default Workspace Image now follows their groups.`
          : `${user.username}'s Default Workspace Image saved.`,
      };
      return reply.redirect(`/admin/users/${user.id}#default-image`, 303);
    },
  );

  await app.register(fileMappingRoutes, {
    kind: 'user',
    base: '/admin/users/:id',
    view: 'users_view',
    modify: 'users_modify',
    async loadOwner(request, reply, need) {
      const user = await userParam.loadOr404(request, reply);
      if (!user) return null;
      // Files land in the user's workspace: changing a stronger user's files is changing them.
      const refused = need === 'modify' ? await refuseStrongerUser(db, actorOf(request), user) : null;
      if (refused) {
        await reply.problemPage(refused.problem); // audited
        return null;
      }
      return {
        kind: 'user',
        id: user.id,
        name: user.username,
        url: `/admin/users/${user.id}`,
        listLabel: 'Users',
        listUrl: '/admin/users',
      };
    },
  });

  // The confirm step before logging a user out everywhere: the user page's and the row's Log Out lead here.
  app.get(
    '/admin/users/:id/logout',
    { schema: { params: UserParams }, config: { permission: 'users_auth_session' }, preHandler: userParam.load },
    async (request, reply) => confirmLogout(request, reply, userParam.of(request)),
  );

  app.post(
    '/admin/users/:id/logout',
    {
      schema: { params: UserParams, querystring: UserListQuerySchema, body: ConfirmForm },
      config: { permission: 'users_auth_session' },
      preHandler: userParam.load,
    },
    async (request, reply) => {
      const user = userParam.of(request);
      if (request.body.confirm !== 'yes') return confirmLogout(request, reply, user);
      const actor = actorOf(request);
      const result = await logOutEverywhere(db, actor, user, (tx) =>
        refuseReachingUser(tx, actor, user, `Logging out ${user.username}`),
      );
      if (!result.ok) return reply.problemPage(forbidden(result.message).problem); // audited by the check
      const { ended } = result;
      const message = {
        type: 'success',
        message: `${user.username} was logged out everywhere (${ended} ${ended === 1 ? 'session' : 'sessions'}).`,
      } as const;
      if (request.wantsFragment()) return renderUserList(request, reply, parseListQuery(request.query), message);
      request.session.flash = message;
      return reply.redirect(`/admin/users/${user.id}`, 303);
    },
  );
};

export default userRoutes;
