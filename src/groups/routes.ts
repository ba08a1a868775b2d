import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { actorOf } from '../audit/audit-log.js';
import { entityLoader, PAGE_STATUS } from '../http/problems.js';
import type { PermissionHolder } from '../security/view-access.js';
import {
  joiningNeedsConfirm,
  permissionPanel,
  requestedPermissions,
  type Permission,
} from '../security/permissions.js';
import { fieldErrorsOf, invalid, notFound, type Problem, type Result } from '../security/result.js';
import type { Group } from '../db/schema.js';
import {
  controlOf,
  formatSettingValue,
  parseSettingValue,
  SETTINGS,
  settingByKey,
  settingFormValue,
} from '../settings/catalogue.js';
import { refuseReachingMembers } from './stronger-users.js';
import { decodeCursor, encodeCursor } from '../db/sql-helpers.js';
import { listMappings } from '../file-mappings/file-mappings-queries.js';
import fileMappingRoutes, { mappingListView } from '../file-mappings/routes.js';
import { workspaceCatalogue } from '../workspaces/workspaces-queries.js';
import { canDeleteGroup, canModifyGroup, canViewGroup, modifyGroupNeeds } from './group-access.js';
import {
  changeMembership,
  createGroup,
  deleteGroup,
  duplicateGroup,
  removeGroupSetting,
  setGroupPermissions,
  setGroupSetting,
  updateGroup,
} from './groups-commands.js';
import {
  findGroup,
  findMemberRef,
  listGroups,
  memberCandidates,
  membersOfGroup,
  nonMemberChoices,
  MEMBERS_PER_PAGE,
  permissionsOfGroup,
  settingsOfGroup,
} from './groups-queries.js';
import { validateGroup } from './group-validation.js';
import { addGroupMapping, deleteGroupMapping } from './group-mappings-commands.js';
import { findGroupMapping, mappingsAndProviders } from './group-mappings-queries.js';
import { joiningQuestion } from './membership-confirm.js';

import {
  AddMemberForm,
  EmptyForm,
  GroupForm,
  GroupListQuery,
  GroupMappingForm,
  GroupMappingParams,
  GroupMemberParams,
  GroupParams,
  GroupSettingParams,
  GroupShowQuery,
  MemberSuggestionsQuery,
  PermissionsForm,
  SettingEditQuery,
  SettingForm,
} from '../schemas/groups.js';

type Need = 'view' | 'modify' | 'delete';

/** Why the actor may not `need` a group they can see, or null when they may (a route-level check). */
function refusalOf(actor: PermissionHolder, group: Group, need: Need): string | null {
  const allowed = need === 'view' || (need === 'modify' ? canModifyGroup(actor, group) : canDeleteGroup(actor, group));
  if (allowed) return null;
  const needs =
    need === 'delete'
      ? group.isSystem
        ? 'system groups cannot be deleted'
        : 'it needs groups_delete'
      : `it needs ${modifyGroupNeeds(group)}`;
  return `You may not ${need} the group ${group.name}: ${needs}.`;
}

/** The same group's delete step, before and after a refused delete. */
const deleteSubject = (group: Pick<Group, 'id' | 'name'>) => ({
  kind: 'group',
  name: group.name,
  listUrl: '/admin/groups',
  listLabel: 'Groups',
  itemUrl: `/admin/groups/${group.id}`,
  consequences: 'Its members leave the group and lose what it granted; its settings and permissions are removed.',
});

/** The sections of the group page an action returns to, and what it says there. */
type Section = 'members' | 'settings' | 'permissions' | 'mappings';
/** Where a return to each section lands: its top, or for Permissions (a long list) its message by Save. */
const SECTION_ANCHORS: Record<Section, string> = {
  members: 'members',
  settings: 'settings',
  permissions: 'permissions-note',
  mappings: 'sso-mappings',
};
type Note = { type: 'success' | 'error' | 'info' | 'warning'; message: string };

/** The questions before removing: the confirm page (no JS) and hx-confirm (JS) ask the same. */
const QUESTIONS = {
  removeMember: (username: string, groupName: string) => `Remove ${username} from ${groupName}?`,
  removeSetting: (label: string, groupName: string) => `Remove the setting ${label} from ${groupName}?`,
  removeMapping: (what: string, groupName: string) => `Remove the mapping of ${what} into ${groupName}?`,
};

/** What a mapping maps, in words. */
const mappedWhat = (mapping: { allUsers: boolean; groupDn: string; providerName: string }) =>
  mapping.allUsers ? `all users of ${mapping.providerName}` : `${mapping.groupDn} (${mapping.providerName})`;

/** The Add SSO Group Mapping form as typed, and its errors by field. */
type MappingForm = {
  values: { provider_id: string; all_users: boolean; group_dns: string };
  errors: Record<string, string>;
};

type ShowQuery = { user_q?: string; members_page?: number; members_after?: string; members_before?: string };

const VIEW: readonly Permission[] = ['groups_view', 'groups_view_ifmember'];
const MODIFY: readonly Permission[] = ['groups_modify', 'groups_modify_ifmember'];

const groupRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db } = app;

  // A group the actor may not see does not exist for them.
  const groupParam = entityLoader(
    { title: 'Group not found', message: 'This group does not exist (any more).' },
    async (id, request) => {
      const group = await findGroup(db, id);
      return group && canViewGroup(request.currentUser!, group) ? group : null;
    },
  );
  /** Loads the :id group, then refuses (audited, 403) an actor who may not `need` it. */
  const loadGroup = (need: Need): preHandlerAsyncHookHandler[] => [
    groupParam.load,
    async (request, reply) => {
      const refusal = refusalOf(request.currentUser!, groupParam.of(request), need);
      if (refusal) return reply.forbidden(refusal);
    },
  ];
  const memberParam = entityLoader(
    { title: 'User not found', message: 'This user no longer exists.' },
    (_id, request) => findMemberRef(db, (request.params as { userId: string }).userId),
  );

  /** The members section's data: page, count, rows, and a picker as a fresh load gives it. */
  // `permissions`: the group's, when the caller reads them anyway (the full page reads them once).
  async function membersView(
    request: FastifyRequest,
    group: Group,
    extra: { note?: Note | null; focusPicker?: boolean; permissions?: Promise<string[]> } = {},
  ) {
    const actor = request.currentUser!;
    // The page's query (paging, a search without JS); an in-place answer to a POST has none: page 1, empty picker.
    const query = (request.method === 'GET' ? (request.query ?? {}) : {}) as ShowQuery;
    const page = query.members_page ?? 1;
    const userSearch = query.user_q ?? '';
    const canModify = canModifyGroup(actor, group);
    // Everyone is in All Users: no one to add (and listing outsiders would read every user).
    const canAddMembers = canModify && group.systemKey !== 'all_users';
    const [members, candidates, permissions] = await Promise.all([
      membersOfGroup(db, group.id, {
        page,
        after: decodeCursor(query.members_after),
        before: query.members_after ? undefined : decodeCursor(query.members_before),
      }),
      canAddMembers && userSearch ? memberCandidates(db, group.id, userSearch) : Promise.resolve(null),
      canAddMembers ? (extra.permissions ?? permissionsOfGroup(db, group.id)) : Promise.resolve([]),
    ]);
    const choices = canAddMembers ? await nonMemberChoices(db, group.id, members.total) : null;
    return {
      group,
      canModify,
      canAddMembers,
      questions: QUESTIONS,
      members: {
        ...members,
        page,
        pages: Math.max(1, Math.ceil(members.total / MEMBERS_PER_PAGE)),
        // Page 1 needs no cursor; others continue from the rows shown.
        previousUrl:
          page <= 2
            ? `?members_page=1`
            : `?members_page=${page - 1}&members_before=${members.previousCursor ? encodeCursor(members.previousCursor) : ''}`,
        nextUrl: `?members_page=${page + 1}&members_after=${members.nextCursor ? encodeCursor(members.nextCursor) : ''}`,
      },
      picker: { search: userSearch, candidates, choices },
      // Adding to such a group goes through the confirm page: a plain form, also with JS.
      addNeedsConfirm: joiningNeedsConfirm(actor.permissions, permissions),
      memberNote: extra.note ?? null,
      focusPicker: extra.focusPicker ?? false,
    };
  }

  /** The settings section's data. */
  async function settingsView(
    request: FastifyRequest,
    group: Group,
    extra: { note?: Note | null; focusSettings?: boolean } = {},
  ) {
    const [settings, workspaces] = await Promise.all([settingsOfGroup(db, group.id), workspaceCatalogue(db)]);
    return {
      group,
      canModify: canModifyGroup(request.currentUser!, group),
      questions: QUESTIONS,
      settings: SETTINGS.filter((s) => s.key in settings).map((s) => ({
        ...s,
        display: formatSettingValue(s, settings[s.key]!, workspaces.names),
      })),
      unsetSettings: SETTINGS.filter((s) => !(s.key in settings)),
      settingsNote: extra.note ?? null,
      focusSettings: extra.focusSettings ?? false,
    };
  }

  /** The permissions section's data. */
  async function permissionsView(
    request: FastifyRequest,
    group: Group,
    extra: { note?: Note | null; permissions?: Promise<string[]> } = {},
  ) {
    const actor = request.currentUser!;
    return {
      group,
      canModify: canModifyGroup(actor, group),
      permissionSections: permissionPanel(
        await (extra.permissions ?? permissionsOfGroup(db, group.id)),
        actor.permissions,
      ),
      permissionsNote: extra.note ?? null,
    };
  }

  /** The SSO Group Mappings section's data: the mappings, and (for who may change the group) the add form. */
  async function mappingsView(
    request: FastifyRequest,
    group: Group,
    extra: { note?: Note | null; form?: MappingForm } = {},
  ) {
    const canModify = canModifyGroup(request.currentUser!, group);
    const { mappings: rows, providers } = await mappingsAndProviders(db, group.id);
    return {
      group,
      canModify,
      // All Users holds every user already: nothing to map into it.
      canAddMappings: canModify && group.systemKey !== 'all_users',
      questions: QUESTIONS,
      groupMappings: rows.map((row) => ({ ...row, what: mappedWhat(row) })),
      providers: canModify ? providers : [],
      mappingForm: extra.form ?? { values: { provider_id: '', all_users: false, group_dns: '' }, errors: {} },
      mappingNote: extra.note ?? null,
    };
  }

  const SECTION_VIEWS = {
    members: membersView,
    settings: settingsView,
    permissions: permissionsView,
    mappings: mappingsView,
  } as const;

  async function renderShow(
    request: FastifyRequest,
    reply: FastifyReply,
    group: Group,
    extra: {
      values?: Record<string, unknown>;
      errors?: Record<string, string>;
      notes?: Partial<Record<Section, Note>>;
      mappingForm?: MappingForm;
    } = {},
  ) {
    const actor = request.currentUser!;
    const notes = { ...extra.notes };
    // A message for a section (after a redirect to it) shows in that section, not at the top of the page.
    const flash = request.session.flash;
    if (flash?.section && flash.section in SECTION_VIEWS) {
      notes[flash.section as Section] = { type: flash.type, message: flash.message };
      delete request.session.flash;
    }
    const groupPermissions = permissionsOfGroup(db, group.id); // one read for both sections
    const [members, settings, permissions, mappings, ssoMappings] = await Promise.all([
      membersView(request, group, { note: notes.members, permissions: groupPermissions }),
      settingsView(request, group, { note: notes.settings }),
      permissionsView(request, group, { note: notes.permissions, permissions: groupPermissions }),
      listMappings(db, { kind: 'group', id: group.id }),
      mappingsView(request, group, { note: notes.mappings, form: extra.mappingForm }),
    ]);
    return reply.render('groups/show', {
      ...members,
      ...settings,
      ...permissions,
      ...ssoMappings,
      group,
      values: extra.values ?? group,
      errors: extra.errors ?? {},
      canDelete: canDeleteGroup(actor, group),
      mappings: mappingListView({ url: `/admin/groups/${group.id}` }, mappings, members.canModify),
    });
  }

  /**
   * After an action in one section of the group page: htmx gets that section re-rendered with what
   * happened (focus back on its control); a boosted form gets the page, scrolled to the section;
   * without JS, success redirects to the section (its message shown there) and a failure renders
   * the page with the message in the section, or redirects too when `failureRedirects`.
   * Refusals for lack of permission are the 403 page (audited by the commands).
   */
  async function answerInSection<T>(
    request: FastifyRequest,
    reply: FastifyReply,
    group: Group,
    section: Section,
    result: Result<T>,
    success: string,
    options: { failureRedirects?: boolean; mappingForm?: MappingForm } = {},
  ) {
    if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem);
    const form = result.ok ? undefined : options.mappingForm;
    // An error that belongs beside a field of the form is shown there, not twice.
    const besideField = form !== undefined && Object.keys(form.errors).length > 0;
    const note: Note | null = result.ok
      ? { type: 'success', message: success }
      : besideField
        ? null
        : { type: 'error', message: result.problem.message };
    const url = `/admin/groups/${group.id}#${SECTION_ANCHORS[section]}`;
    if (!result.ok) reply.code(PAGE_STATUS[result.problem.kind]);
    if (request.wantsFragment()) {
      const view = await SECTION_VIEWS[section](request, group, { note, focusPicker: true, focusSettings: true, form });
      return reply.render(`groups/_${section}`, view);
    }
    const notes = note ? { [section]: note } : {};
    if (request.headers['hx-boosted'] === 'true') {
      // A redirect would land at the top of the page (htmx drops the #section): answer the page itself.
      reply.header('HX-Push-Url', url).header('HX-Reswap', `innerHTML show:#${SECTION_ANCHORS[section]}:top`);
      return renderShow(request, reply, group, { notes, mappingForm: form });
    }
    if (note && (result.ok || options.failureRedirects)) {
      request.session.flash = { ...note, section };
      return reply.redirect(url, 303);
    }
    return renderShow(request, reply, group, { notes, mappingForm: form });
  }

  app.get(
    '/admin/groups',
    { schema: { querystring: GroupListQuery }, config: { permission: VIEW } },
    async (request, reply) => {
      const actor = request.currentUser!;
      const sort = request.query.sort ?? 'priority';
      const direction = request.query.dir ?? 'asc';
      const rows = (await listGroups(db, sort, direction)).filter((group) => canViewGroup(actor, group));
      return reply.render('groups/index', {
        rows: rows.map((group) => ({ ...group, canDelete: canDeleteGroup(actor, group) })),
        sort,
        direction,
      });
    },
  );

  app.get('/admin/groups/new', { config: { permission: 'groups_create' } }, async (_request, reply) =>
    reply.render('groups/new', { values: { name: '', description: '', priority: '' }, errors: {} }),
  );

  app.post(
    '/admin/groups',
    { schema: { body: GroupForm }, config: { permission: 'groups_create' } },
    async (request, reply) => {
      const values = groupFormValues(request.body);
      const validation = validateGroup(request.body);
      if (!validation.ok) return reply.code(422).render('groups/new', { values, errors: validation.errors });
      const result = await createGroup(db, actorOf(request), validation.value);
      if (!result.ok)
        return reply
          .code(PAGE_STATUS[result.problem.kind])
          .render('groups/new', { values, errors: formErrors(result.problem) });
      request.session.flash = { type: 'success', message: `Group ${result.value.name} created.` };
      return reply.redirect(`/admin/groups/${result.value.id}`, 303);
    },
  );

  app.get(
    '/admin/groups/:id',
    {
      schema: { params: GroupParams, querystring: GroupShowQuery },
      config: { permission: VIEW },
      preHandler: loadGroup('view'),
    },
    async (request, reply) => renderShow(request, reply, groupParam.of(request)),
  );

  app.post(
    '/admin/groups/:id',
    {
      schema: { params: GroupParams, body: GroupForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const values = { ...group, ...groupFormValues(request.body) };
      const validation = validateGroup(request.body);
      if (!validation.ok) {
        reply.code(422);
        return renderShow(request, reply, group, { values, errors: validation.errors });
      }
      const result = await updateGroup(db, actorOf(request), group, validation.value);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited
      if (!result.ok) {
        reply.code(PAGE_STATUS[result.problem.kind]);
        return renderShow(request, reply, group, { values, errors: formErrors(result.problem) });
      }
      request.session.flash = { type: 'success', message: `Group ${result.value.name} saved.` };
      return reply.redirect(`/admin/groups/${group.id}`, 303);
    },
  );

  app.post(
    '/admin/groups/:id/duplicate',
    {
      schema: { params: GroupParams, body: EmptyForm },
      config: { permission: 'groups_create' },
      preHandler: loadGroup('view'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const result = await duplicateGroup(db, actorOf(request), group);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited
      if (!result.ok) {
        request.session.flash = { type: 'error', message: result.problem.message };
        return reply.redirect('/admin/groups', 303);
      }
      request.session.flash = {
        type: 'success',
        message: `Group ${group.name} duplicated as ${result.value.name} (priority ${result.value.priority}).`,
      };
      return reply.redirect(`/admin/groups/${result.value.id}`, 303);
    },
  );

  app.get(
    '/admin/groups/:id/delete',
    { schema: { params: GroupParams }, config: { permission: 'groups_delete' }, preHandler: loadGroup('delete') },
    async (request, reply) => reply.confirmDelete(deleteSubject(groupParam.of(request))),
  );

  app.post(
    '/admin/groups/:id/delete',
    {
      schema: { params: GroupParams, body: EmptyForm },
      config: { permission: 'groups_delete' },
      preHandler: loadGroup('delete'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const result = await deleteGroup(db, actorOf(request), group);
      if (!result.ok && result.problem.kind === 'forbidden') return reply.problemPage(result.problem); // audited
      if (!result.ok) return reply.confirmDelete(deleteSubject(group), result.problem);
      request.session.flash = { type: 'success', message: `Group ${group.name} deleted.` };
      return reply.redirect('/admin/groups', 303);
    },
  );

  // Users in Group ---------------------------------------------------------------------------

  app.get(
    '/admin/groups/:id/user-suggestions',
    {
      schema: { params: GroupParams, querystring: MemberSuggestionsQuery },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const search = request.query.user_q ?? '';
      const [candidates, permissions] = await Promise.all([
        search ? memberCandidates(db, group.id, search) : null,
        permissionsOfGroup(db, group.id),
      ]);
      return reply.header('Vary', 'HX-Request').render('groups/_suggestions', {
        group,
        picker: { search, candidates },
        addNeedsConfirm: joiningNeedsConfirm(request.currentUser!.permissions, permissions),
      });
    },
  );

  app.post(
    '/admin/groups/:id/members',
    {
      schema: { params: GroupParams, body: AddMemberForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const user = await findMemberRef(db, request.body.user_id ?? '');
      const question =
        user && request.body.confirm !== 'yes'
          ? await joiningQuestion(db, request.currentUser!, group, user.username)
          : null;
      if (user && question) {
        return reply.render('confirm-step', {
          ...question,
          action: `/admin/groups/${group.id}/members`,
          fields: { user_id: user.id },
          cancelUrl: `/admin/groups/${group.id}#members`,
        });
      }
      const result = user
        ? await changeMembership(db, actorOf(request), group, user, 'add')
        : invalid('Pick a user to add.');
      return answerInSection(request, reply, group, 'members', result, `${user?.username} added to ${group.name}.`);
    },
  );

  // Without JS, Remove is a link to this confirm step; with JS, hx-confirm asks the same question.
  app.get(
    '/admin/groups/:id/members/:userId/remove',
    {
      schema: { params: GroupMemberParams },
      config: { permission: MODIFY },
      preHandler: [...loadGroup('modify'), memberParam.load],
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const user = memberParam.of(request);
      return reply.render('confirm-step', {
        question: QUESTIONS.removeMember(user.username, group.name),
        consequences: `${user.username} loses what ${group.name} grants: its permissions, settings and file mappings (another group's may then apply).`,
        action: `/admin/groups/${group.id}/members/${user.id}/remove`,
        label: `Remove ${user.username}`,
        cancelUrl: `/admin/groups/${group.id}#members`,
      });
    },
  );

  app.post(
    '/admin/groups/:id/members/:userId/remove',
    {
      schema: { params: GroupMemberParams, body: EmptyForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const user = await findMemberRef(db, request.params.userId);
      const result = user
        ? await changeMembership(db, actorOf(request), group, user, 'remove')
        : notFound('This user no longer exists.');
      return answerInSection(request, reply, group, 'members', result, `${user?.username} removed from ${group.name}.`);
    },
  );

  // Settings ---------------------------------------------------------------------------------

  app.get(
    '/admin/groups/:id/settings/edit',
    {
      schema: { params: GroupParams, querystring: SettingEditQuery },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const setting = settingByKey(request.query.key ?? '');
      if (!setting) {
        request.session.flash = { type: 'error', message: 'Choose a setting to add.' };
        return reply.redirect(`/admin/groups/${group.id}#settings`, 303);
      }
      const [current, workspaces] = await Promise.all([settingsOfGroup(db, group.id), workspaceCatalogue(db)]);
      const value =
        setting.key in current
          ? settingFormValue(setting, current[setting.key]!)
          : settingFormValue(setting, setting.default);
      return reply.render('groups/setting-form', {
        group,
        setting,
        control: controlOf(setting, workspaces.choices),
        value,
        error: null,
        isNew: !(setting.key in current),
      });
    },
  );

  app.post(
    '/admin/groups/:id/settings',
    {
      schema: { params: GroupParams, body: SettingForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const setting = settingByKey(request.body.key);
      if (!setting)
        return reply
          .code(422)
          .render('errors/error', { title: 'Unknown setting', message: 'There is no such setting.' });
      const raw = request.body.value ?? '';
      const workspaces = await workspaceCatalogue(db);
      const parsed = parseSettingValue(setting, raw, (id) => workspaces.usable.has(id));
      if (!parsed.ok) {
        const current = await settingsOfGroup(db, group.id);
        return reply.code(422).render('groups/setting-form', {
          group,
          setting,
          control: controlOf(setting, workspaces.choices),
          value: raw,
          error: parsed.error,
          isNew: !(setting.key in current),
        });
      }
      const result = await setGroupSetting(db, actorOf(request), group, setting.key, parsed.value);
      return answerInSection(
        request,
        reply,
        group,
        'settings',
        result,
        `${setting.label} set to ${formatSettingValue(setting, parsed.value, workspaces.names)}.`,
        { failureRedirects: true },
      );
    },
  );

  app.get(
    '/admin/groups/:id/settings/:key/remove',
    { schema: { params: GroupSettingParams }, config: { permission: MODIFY }, preHandler: loadGroup('modify') },
    async (request, reply) => {
      const group = groupParam.of(request);
      const setting = settingByKey(request.params.key);
      if (!setting)
        return reply
          .code(404)
          .render('errors/error', { title: 'Unknown setting', message: 'There is no such setting.' });
      return reply.render('confirm-step', {
        question: QUESTIONS.removeSetting(setting.label, group.name),
        consequences: `Its members then get ${setting.label} from another group or the default.`,
        action: `/admin/groups/${group.id}/settings/${setting.key}/remove`,
        label: `Remove ${setting.label}`,
        cancelUrl: `/admin/groups/${group.id}#settings`,
      });
    },
  );

  app.post(
    '/admin/groups/:id/settings/:key/remove',
    {
      schema: { params: GroupSettingParams, body: EmptyForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const result = await removeGroupSetting(db, actorOf(request), group, request.params.key);
      const label = settingByKey(request.params.key)?.label ?? request.params.key;
      return answerInSection(
        request,
        reply,
        group,
        'settings',
        result,
        `${label} removed; members get it from another group or the default.`,
        {
          failureRedirects: true,
        },
      );
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
      const group = await groupParam.loadOr404(request, reply);
      if (!group) return null;
      const refusal = refusalOf(request.currentUser!, group, need);
      if (refusal) {
        await reply.forbidden(refusal);
        return null;
      }
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

  // SSO Group Mappings (docs/rules.md#sso-group-mappings) --------------------------------------
  // Changing them is changing the group's members: the same permission as its members and
  // settings. The commands add no way up (a mapping confers the group's permissions).

  const mappingParam = entityLoader(
    { title: 'Mapping not found', message: 'This SSO group mapping does not exist (any more).' },
    (_id, request) =>
      findGroupMapping(db, groupParam.of(request).id, (request.params as { groupMappingId: string }).groupMappingId),
  );

  app.post(
    '/admin/groups/:id/sso-mappings',
    {
      schema: { params: GroupParams, body: GroupMappingForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const values = {
        provider_id: request.body.provider_id ?? '',
        all_users: request.body.all_users === 'true' || request.body.all_users === 'on',
        group_dns: request.body.group_dns ?? '',
      };
      const result = await addGroupMapping(db, actorOf(request), group, {
        providerId: values.provider_id,
        allUsers: values.all_users,
        groupDns: values.group_dns.split(/\r?\n/),
      });
      const added = result.ok ? result.value : [];
      const success =
        added.length === 1
          ? `Mapped ${mappedWhat(added[0]!)} into ${group.name}.`
          : `Mapped ${added.length} group DNs of ${added[0]?.providerName} into ${group.name}.`;
      const errors = result.ok ? {} : fieldErrorsOf(result.problem);
      return answerInSection(
        request,
        reply,
        group,
        'mappings',
        result,
        `${success} Members join at their next login or sync.`,
        {
          mappingForm: { values, errors },
        },
      );
    },
  );

  // Without JS, Remove is a link to this confirm step; with JS, hx-confirm asks the same question.
  app.get(
    '/admin/groups/:id/sso-mappings/:groupMappingId/remove',
    {
      schema: { params: GroupMappingParams },
      config: { permission: MODIFY },
      preHandler: [...loadGroup('modify'), mappingParam.load],
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const mapping = mappingParam.of(request);
      return reply.render('confirm-step', {
        question: QUESTIONS.removeMapping(mappedWhat(mapping), group.name),
        consequences: `Members it added stay in ${group.name} until their next login or directory sync, which removes them unless another mapping still wants them.`,
        action: `/admin/groups/${group.id}/sso-mappings/${mapping.id}/remove`,
        label: 'Remove mapping',
        cancelUrl: `/admin/groups/${group.id}#sso-mappings`,
      });
    },
  );

  app.post(
    '/admin/groups/:id/sso-mappings/:groupMappingId/remove',
    {
      schema: { params: GroupMappingParams, body: EmptyForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const result = await deleteGroupMapping(db, actorOf(request), group, request.params.groupMappingId);
      const success = result.ok
        ? `Mapping of ${mappedWhat(result.value)} removed. Members it added stay until their next login or sync.`
        : '';
      return answerInSection(request, reply, group, 'mappings', result, success, { failureRedirects: true });
    },
  );

  // Permissions ------------------------------------------------------------------------------

  app.post(
    '/admin/groups/:id/permissions',
    {
      schema: { params: GroupParams, body: PermissionsForm },
      config: { permission: MODIFY },
      preHandler: loadGroup('modify'),
    },
    async (request, reply) => {
      const group = groupParam.of(request);
      const actor = request.currentUser!;
      const wanted = requestedPermissions(
        request.body.permission ?? [],
        await permissionsOfGroup(db, group.id),
        actor.permissions,
      );
      const result = await setGroupPermissions(db, actorOf(request), group, wanted);
      return answerInSection(request, reply, group, 'permissions', result, `Permissions of ${group.name} saved.`);
    },
  );
};

/** A create or update refused by the form's rules: its field errors (the name, when it names none). */
const formErrors = (problem: Problem) =>
  problem.fields || problem.field ? fieldErrorsOf(problem) : { name: problem.message };

/** The group form's values as typed, to show again with the errors. */
function groupFormValues(body: { name?: string; description?: string; priority?: string }) {
  return { name: body.name ?? '', description: body.description ?? '', priority: body.priority ?? '' };
}

export default groupRoutes;
