import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import { joiningNeedsConfirm, permissionPanel, requestedPermissions, type Permission } from '../security/permissions.js';
import type { Group } from '../db/schema.js';
import { controlOf, formatSettingValue, parseSettingValue, SETTINGS, settingByKey, settingFormValue } from '../settings/catalogue.js';
import { findMemberRef } from './groups-repository.js';
import { refuseReachingMembers } from './stronger-users.js';
import { decodeCursor, encodeCursor } from '../db/sql-helpers.js';
import { listMappings } from '../file-mappings/file-mappings-repository.js';
import fileMappingRoutes, { mappingListView } from '../file-mappings/routes.js';
import { workspaceCatalogue } from '../workspaces/workspaces-repository.js';
import { canDeleteGroup, canModifyGroup, canViewGroup, modifyGroupNeeds } from './group-access.js';
import {
  addMember,
  createGroup,
  deleteGroup,
  duplicateGroup,
  findGroup,
  listGroups,
  memberCandidates,
  membersOfGroup,
  nonMemberChoices,
  MEMBERS_PER_PAGE,
  permissionsOfGroup,
  removeGroupSetting,
  removeMember,
  setGroupPermissions,
  setGroupSetting,
  settingsOfGroup,
  updateGroup,
  validateGroup,
  type GroupResult,
} from './groups-service.js';

import {
  AddMemberForm,
  EmptyForm,
  GroupForm,
  GroupListQuery,
  GroupMemberParams,
  GroupParams,
  GroupSettingParams,
  GroupShowQuery,
  MemberSuggestionsQuery,
  PermissionsForm,
  SettingEditQuery,
  SettingForm,
} from '../schemas/groups.js';

type IdParams = { id: string };

type ShowQuery = { user_q?: string; members_page?: number; members_after?: string; members_before?: string };

const VIEW: readonly Permission[] = ['groups_view', 'groups_view_ifmember'];
const MODIFY: readonly Permission[] = ['groups_modify', 'groups_modify_ifmember'];

const groupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;

  const groupNotFound = (reply: FastifyReply) =>
    reply.code(404).render('errors/error', { title: 'Group not found', message: 'This group does not exist (any more).' });

  /** The :id group if the actor may see it (and change it, when `modify`); else answers and gives null. */
  async function loadGroup(
    request: FastifyRequest<{ Params: IdParams }>,
    reply: FastifyReply,
    need: 'view' | 'modify' | 'delete',
  ): Promise<Group | null> {
    const actor = request.currentUser!;
    const group = await findGroup(db, request.params.id);
    if (!group || !canViewGroup(actor, group)) {
      await groupNotFound(reply); // a group the actor may not see does not exist for them
      return null;
    }
    const allowed = need === 'view' || (need === 'modify' ? canModifyGroup(actor, group) : canDeleteGroup(actor, group));
    if (!allowed) {
      const needs =
        need === 'delete'
          ? group.isSystem ? 'system groups cannot be deleted' : 'it needs groups_delete'
          : `it needs ${modifyGroupNeeds(group)}`;
      await reply.forbidden(`You may not ${need} the group ${group.name}: ${needs}.`);
      return null;
    }
    return group;
  }

  async function renderShow(
    request: FastifyRequest,
    reply: FastifyReply,
    group: Group,
    extra: { values?: Record<string, unknown>; errors?: Record<string, string>; memberError?: string; permissionError?: string } = {},
  ) {
    const actor = request.currentUser!;
    const query = (request.query ?? {}) as ShowQuery;
    const page = query.members_page ?? 1;
    const userSearch = query.user_q ?? '';
    const canModify = canModifyGroup(actor, group);
    // Everyone is in All Users: no one to add (and listing outsiders would read every user).
    const canAddMembers = canModify && group.systemKey !== 'all_users';
    const [members, settings, permissions, candidates, workspaces, mappings] = await Promise.all([
      membersOfGroup(db, group.id, {
        page,
        after: decodeCursor(query.members_after),
        before: query.members_after ? undefined : decodeCursor(query.members_before),
      }),
      settingsOfGroup(db, group.id),
      permissionsOfGroup(db, group.id),
      userSearch ? memberCandidates(db, group.id, userSearch) : Promise.resolve(null),
      workspaceCatalogue(db),
      listMappings(db, { kind: 'group', id: group.id }),
    ]);
    const choices = canAddMembers ? await nonMemberChoices(db, group.id, members.total) : null;
    return reply.render('groups/show', {
      group,
      values: extra.values ?? group,
      errors: extra.errors ?? {},
      memberError: extra.memberError ?? null,
      permissionError: extra.permissionError ?? null,
      canModify,
      canAddMembers,
      canDelete: canDeleteGroup(actor, group),
      members: {
        ...members,
        page,
        pages: Math.max(1, Math.ceil(members.total / MEMBERS_PER_PAGE)),
        // Page 1 needs no cursor; others continue from the rows shown.
        previousUrl: page <= 2 ? `?members_page=1` : `?members_page=${page - 1}&members_before=${members.previousCursor ? encodeCursor(members.previousCursor) : ''}`,
        nextUrl: `?members_page=${page + 1}&members_after=${members.nextCursor ? encodeCursor(members.nextCursor) : ''}`,
      },
      picker: { search: userSearch, candidates, choices },
      settings: SETTINGS.filter((s) => s.key in settings).map((s) => ({ ...s, display: formatSettingValue(s, settings[s.key]!, workspaces.names) })),
      mappings: mappingListView({ url: `/admin/groups/${group.id}` }, mappings, canModify),
      unsetSettings: SETTINGS.filter((s) => !(s.key in settings)),
      permissionSections: permissionPanel(permissions, actor.permissions),
      // Adding to such a group goes through the confirm page: a plain form, also with JS.
      addNeedsConfirm: joiningNeedsConfirm(actor.permissions, permissions),
    });
  }

  /** Success: back to the group page with a flash; failure: the group page with the error (refusals are audited by the services). */
  async function finish<T>(
    request: FastifyRequest<{ Params: IdParams }>,
    reply: FastifyReply,
    group: Group,
    result: GroupResult<T>,
    success: string,
    onError: 'memberError' | 'permissionError' | 'flash',
    anchor = '',
  ) {
    if (result.ok) {
      request.session.flash = { type: 'success', message: success };
      return reply.redirect(`/admin/groups/${group.id}${anchor}`, 303);
    }
    if (result.status === 403) return reply.renderForbidden(result.message);
    if (onError === 'flash') {
      request.session.flash = { type: 'error', message: result.message };
      return reply.redirect(`/admin/groups/${group.id}${anchor}`, 303);
    }
    reply.code(result.status);
    return renderShow(request, reply, group, { [onError]: result.message });
  }

  app.get('/admin/groups', { schema: { querystring: GroupListQuery }, config: { permission: VIEW } }, async (request, reply) => {
    const actor = request.currentUser!;
    const sort = request.query.sort ?? 'priority';
    const direction = request.query.dir ?? 'asc';
    const rows = (await listGroups(db, sort, direction)).filter((group) => canViewGroup(actor, group));
    return reply.render('groups/index', {
      rows: rows.map((group) => ({ ...group, canDelete: canDeleteGroup(actor, group) })),
      sort,
      direction,
    });
  });

  app.get('/admin/groups/new', { config: { permission: 'groups_create' } }, async (_request, reply) =>
    reply.render('groups/new', { values: { name: '', description: '', priority: '' }, errors: {} }),
  );

  app.post('/admin/groups', { schema: { body: GroupForm }, config: { permission: 'groups_create' } }, async (request, reply) => {
    const values = groupFormValues(request.body);
    const validation = validateGroup(request.body);
    if (!validation.ok) return reply.code(422).render('groups/new', { values, errors: validation.errors });
    const result = await createGroup(db, actorOf(request), validation.value);
    if (!result.ok) return reply.code(result.status).render('groups/new', { values, errors: { [result.field ?? 'name']: result.message } });
    request.session.flash = { type: 'success', message: `Group ${result.value.name} created.` };
    return reply.redirect(`/admin/groups/${result.value.id}`, 303);
  });

  app.get('/admin/groups/:id', { schema: { params: GroupParams, querystring: GroupShowQuery }, config: { permission: VIEW } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'view');
    return group ? renderShow(request, reply, group) : reply;
  });

  app.post('/admin/groups/:id', { schema: { params: GroupParams, body: GroupForm }, config: { permission: MODIFY } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'modify');
    if (!group) return reply;
    const values = { ...group, ...groupFormValues(request.body) };
    const validation = validateGroup(request.body);
    if (!validation.ok) {
      reply.code(422);
      return renderShow(request, reply, group, { values, errors: validation.errors });
    }
    const result = await updateGroup(db, actorOf(request), group, validation.value);
    if (!result.ok && result.status === 403) return reply.renderForbidden(result.message); // audited by the service
    if (!result.ok) {
      reply.code(result.status);
      return renderShow(request, reply, group, { values, errors: { [result.field ?? 'name']: result.message } });
    }
    request.session.flash = { type: 'success', message: `Group ${result.value.name} saved.` };
    return reply.redirect(`/admin/groups/${group.id}`, 303);
  });

  app.post('/admin/groups/:id/duplicate', { schema: { params: GroupParams, body: EmptyForm }, config: { permission: 'groups_create' } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'view');
    if (!group) return reply;
    const result = await duplicateGroup(db, actorOf(request), group);
    if (!result.ok && result.status === 403) return reply.renderForbidden(result.message); // audited by the service
    if (!result.ok) {
      request.session.flash = { type: 'error', message: result.message };
      return reply.redirect('/admin/groups', 303);
    }
    request.session.flash = { type: 'success', message: `Group ${group.name} duplicated as ${result.value.name} (priority ${result.value.priority}).` };
    return reply.redirect(`/admin/groups/${result.value.id}`, 303);
  });

  app.get('/admin/groups/:id/delete', { schema: { params: GroupParams }, config: { permission: 'groups_delete' } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'delete');
    return group ? reply.render('confirm-delete', confirmDelete(group, null)) : reply;
  });

  app.post('/admin/groups/:id/delete', { schema: { params: GroupParams, body: EmptyForm }, config: { permission: 'groups_delete' } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'delete');
    if (!group) return reply;
    const result = await deleteGroup(db, actorOf(request), group);
    if (!result.ok && result.status === 403) return reply.renderForbidden(result.message); // audited by the service
    if (!result.ok) return reply.code(result.status).render('confirm-delete', confirmDelete(group, result.message));
    request.session.flash = { type: 'success', message: `Group ${group.name} deleted.` };
    return reply.redirect('/admin/groups', 303);
  });

  // Users in Group ---------------------------------------------------------------------------

  app.get(
    '/admin/groups/:id/user-suggestions',
    { schema: { params: GroupParams, querystring: MemberSuggestionsQuery }, config: { permission: MODIFY } },
    async (request, reply) => {
      const group = await loadGroup(request, reply, 'modify');
      if (!group) return reply;
      const search = request.query.user_q ?? '';
      const [candidates, permissions] = await Promise.all([search ? memberCandidates(db, group.id, search) : null, permissionsOfGroup(db, group.id)]);
      return reply.header('Vary', 'HX-Request').render('groups/_suggestions', { group, picker: { search, candidates }, addNeedsConfirm: joiningNeedsConfirm(request.currentUser!.permissions, permissions) });
    },
  );

  app.post('/admin/groups/:id/members', { schema: { params: GroupParams, body: AddMemberForm }, config: { permission: MODIFY } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'modify');
    if (!group) return reply;
    const user = await findMemberRef(db, request.body.user_id ?? '');
    if (user && request.body.confirm !== 'yes' && joiningNeedsConfirm(request.currentUser!.permissions, await permissionsOfGroup(db, group.id))) {
      return reply.render('groups/confirm-add-member', {
        username: user.username,
        groupName: group.name,
        action: `/admin/groups/${group.id}/members`,
        fields: { user_id: user.id },
        cancelUrl: `/admin/groups/${group.id}#members`,
      });
    }
    const result: GroupResult<true> = user
      ? await addMember(db, actorOf(request), group, user)
      : { ok: false, message: 'Pick a user to add.', status: 422 };
    if (request.wantsFragment()) {
      if (!result.ok) return memberErrorFragment(reply, result.message, result.status);
      const members = await membersOfGroup(db, group.id, { page: 1 });
      const choices = await nonMemberChoices(db, group.id, members.total);
      // The new row goes into the table; the picker and the count are refreshed out of band.
      return reply.render('groups/_member-added', { group, member: user, canModify: true, total: members.total, picker: { search: '', candidates: null, choices } });
    }
    return finish(request, reply, group, result, `${user?.username} added to ${group.name}.`, 'memberError', '#members');
  });

  app.post(
    '/admin/groups/:id/members/:userId/remove',
    { schema: { params: GroupMemberParams, body: EmptyForm }, config: { permission: MODIFY } },
    async (request, reply) => {
      const group = await loadGroup(request, reply, 'modify');
      if (!group) return reply;
      const user = await findMemberRef(db, request.params.userId);
      const result: GroupResult<true> = user
        ? await removeMember(db, actorOf(request), group, user)
        : { ok: false, message: 'This user no longer exists.', status: 404 };
      if (request.wantsFragment()) {
        if (!result.ok) return memberErrorFragment(reply, result.message, result.status);
        const members = await membersOfGroup(db, group.id, { page: 1 });
        return reply.render('groups/_member-count', { total: members.total, oob: true });
      }
      return finish(request, reply, group, result, `${user?.username} removed from ${group.name}.`, 'memberError', '#members');
    },
  );

  /** For htmx: the message goes into the members section's error slot instead of the row. */
  function memberErrorFragment(reply: FastifyReply, message: string, status: number) {
    return reply.code(status).header('HX-Retarget', '#member-error').header('HX-Reswap', 'outerHTML').render('groups/_member-error', { memberError: message });
  }

  // Settings ---------------------------------------------------------------------------------

  app.get(
    '/admin/groups/:id/settings/edit',
    { schema: { params: GroupParams, querystring: SettingEditQuery }, config: { permission: MODIFY } },
    async (request, reply) => {
      const group = await loadGroup(request, reply, 'modify');
      if (!group) return reply;
      const setting = settingByKey(request.query.key ?? '');
      if (!setting) {
        request.session.flash = { type: 'error', message: 'Choose a setting to add.' };
        return reply.redirect(`/admin/groups/${group.id}#settings`, 303);
      }
      const [current, workspaces] = await Promise.all([settingsOfGroup(db, group.id), workspaceCatalogue(db)]);
      const value = setting.key in current ? settingFormValue(setting, current[setting.key]!) : settingFormValue(setting, setting.default);
      return reply.render('groups/setting-form', { group, setting, control: controlOf(setting, workspaces.choices), value, error: null, isNew: !(setting.key in current) });
    },
  );

  app.post('/admin/groups/:id/settings', { schema: { params: GroupParams, body: SettingForm }, config: { permission: MODIFY } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'modify');
    if (!group) return reply;
    const setting = settingByKey(request.body.key);
    if (!setting) return reply.code(422).render('errors/error', { title: 'Unknown setting', message: 'There is no such setting.' });
    const raw = request.body.value ?? '';
    const workspaces = await workspaceCatalogue(db);
    const parsed = parseSettingValue(setting, raw, (id) => workspaces.usable.has(id));
    if (!parsed.ok) {
      const current = await settingsOfGroup(db, group.id);
      return reply.code(422).render('groups/setting-form', { group, setting, control: controlOf(setting, workspaces.choices), value: raw, error: parsed.error, isNew: !(setting.key in current) });
    }
    const result = await setGroupSetting(db, actorOf(request), group, setting.key, parsed.value);
    return finish(request, reply, group, result, `${setting.label} set to ${formatSettingValue(setting, parsed.value, workspaces.names)}.`, 'flash', '#settings');
  });

  app.post(
    '/admin/groups/:id/settings/:key/remove',
    { schema: { params: GroupSettingParams, body: EmptyForm }, config: { permission: MODIFY } },
    async (request, reply) => {
      const group = await loadGroup(request, reply, 'modify');
      if (!group) return reply;
      const result = await removeGroupSetting(db, actorOf(request), group, request.params.key);
      const label = settingByKey(request.params.key)?.label ?? request.params.key;
      return finish(request, reply, group, result, `${label} removed; members get it from another group or the default.`, 'flash', '#settings');
    },
  );

  // File mappings: changing them is changing the group (its members receive them), so a group
  // with stronger members needs users_modify_admin, asked inside each change's transaction.
  await app.register(fileMappingRoutes, {
    kind: 'group',
    base: '/admin/groups/:id',
    view: VIEW,
    modify: MODIFY,
    async loadOwner(request, reply, need) {
      const group = await loadGroup(request, reply, need);
      if (!group) return null;
      const actor = actorOf(request);
      return {
        kind: 'group',
        id: group.id,
        name: group.name,
        isSystem: group.isSystem,
        url: `/admin/groups/${group.id}`,
        listLabel: 'Groups',
        listUrl: '/admin/groups',
        refuseChange: (tx) => refuseReachingMembers(tx, actor, group, `Changing the file mappings of ${group.name}`),
      };
    },
  });

  // Permissions ------------------------------------------------------------------------------

  app.post('/admin/groups/:id/permissions', { schema: { params: GroupParams, body: PermissionsForm }, config: { permission: MODIFY } }, async (request, reply) => {
    const group = await loadGroup(request, reply, 'modify');
    if (!group) return reply;
    const actor = request.currentUser!;
    const wanted = requestedPermissions(request.body.permission ?? [], await permissionsOfGroup(db, group.id), actor.permissions);
    const result = await setGroupPermissions(db, actorOf(request), group, wanted);
    return finish(request, reply, group, result, `Permissions of ${group.name} saved.`, 'permissionError', '#permissions');
  });
};

/** What the confirm step before deleting a group says. */
function confirmDelete(group: Pick<Group, 'id' | 'name'>, error: string | null) {
  return {
    kind: 'group',
    name: group.name,
    listUrl: '/admin/groups',
    listLabel: 'Groups',
    itemUrl: `/admin/groups/${group.id}`,
    consequences: 'Its members leave the group and lose what it granted; its settings and permissions are removed.',
    error,
  };
}

/** The group form's values as typed, to show again with the errors. */
function groupFormValues(body: { name?: string; description?: string; priority?: string }) {
  return { name: body.name ?? '', description: body.description ?? '', priority: body.priority ?? '' };
}

export default groupRoutes;
