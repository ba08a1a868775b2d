// The Developer API's calls (docs/rules.md#developer-api): one table that the routes, the OpenAPI document and the
// reference page are all made from. Each call goes through the same services as the forms, so
// validation, the password policy, no way up, the last-admin guard and the audit log apply.
import { Readable } from 'node:stream';
import type { Static, TSchema } from 'typebox';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import type { User } from '../db/schema.js';
import { canViewGroup } from '../groups/group-access.js';
import { changeMembership } from '../groups/groups-commands.js';
import { addGroupMapping, deleteGroupMapping } from '../groups/group-mappings-commands.js';
import { findGroupMappingById, listGroupMappings, type GroupMappingRow } from '../groups/group-mappings-queries.js';
import { findGroup, groupChoices, MEMBERS_PER_PAGE, membersOfGroup } from '../groups/groups-queries.js';
import { listIdentityProviders } from '../directories/identity-providers-queries.js';
import { identitiesOfUser } from '../users/users-queries.js';
import { apiAnswerOf } from '../http/problems.js';
import { launch } from '../launches/launches-commands.js';
import { defaultWorkspaceOf, noDefaultMessage } from '../launches/launches-queries.js';
import type { Permission, RefusalCheck } from '../security/permissions.js';
import type { Problem } from '../security/result.js';
import { refuseReachingUser } from '../groups/stronger-users.js';
import { logOutEverywhere } from '../sessions/sessions-commands.js';
import { parseUserSetting, USER_SETTINGS } from '../settings/user-settings.js';
import { findUserById, findUserByUsername, hasWorkspaceSessions } from '../users/users-queries.js';
import { saveUserSetting } from '../users/user-settings-commands.js';
import { userSettingValues } from '../users/user-settings-queries.js';
import { createUser, deleteUser, refuseStrongerUser, updateUser } from '../users/users-commands.js';
import { formValuesOf, validateUser } from '../users/user-validation.js';
import { endWorkspaceSession } from '../workspaces/workspace-sessions-commands.js';
import { findWorkspace, listWorkspaces, workspaceCatalogue } from '../workspaces/workspaces-queries.js';
import {
  AddGroupMappingBody,
  CreateUserBody,
  DeleteGroupMappingBody,
  GroupMappingsBody,
  DeleteUserBody,
  EmptyApiBody,
  GetGroupBody,
  GetUsersBody,
  KasmBody,
  RequestKasmBody,
  TargetUserBody,
  UpdateUserAttributesBody,
  UpdateUserBody,
  UserGroupBody,
} from '../schemas/api.js';
import {
  groupsAndSessionsOf,
  kasmSessionById,
  kasmSessions,
  kasmUserRow,
  keepSessionAlive,
  userBatch,
} from './api-queries.js';
import {
  fromKasmId,
  kasmIdentity,
  kasmImage,
  kasmSession,
  kasmUrl,
  kasmUser,
  kasmUserAttributes,
  toKasmId,
} from './kasm-shapes.js';

/** What a call works with: the database, the key as actor, the time, the password policy. */
export interface ApiContext {
  db: Database;
  actor: Actor;
  now: Date;
  passwordMinLength: number;
  /** Users per statement when get_users streams every user (API_STREAM_BATCH). */
  streamBatch: number;
}

/** A call's answer: a JSON body with its status, or a stream of JSON (get_users). */
export type ApiAnswer = { status: number; body: unknown } | { status: 200; stream: Readable };

export interface ApiCall {
  name: string;
  /** Users, Groups, Workspaces or Sessions: the reference's sections and the OpenAPI tags. */
  tag: 'Users' | 'Groups' | 'Workspaces' | 'Sessions' | 'Authentication';
  permission: Permission;
  summary: string;
  body: TSchema;
  /** The call's arguments in the reference's example (the credentials are added there). */
  example: Record<string, unknown>;
  handle(context: ApiContext, body: never): Promise<ApiAnswer>;
}

/** Read-only keys may call only these (Kasm's rule: get_* calls). */
export const isReadCall = (name: string) => name.startsWith('get_');

const ok = (body: unknown = {}): ApiAnswer => ({ status: 200, body });
export const apiError = (status: number, message: string): ApiAnswer => ({ status, body: { error_message: message } });

const define = <S extends TSchema>(
  call: Omit<ApiCall, 'handle' | 'body'> & {
    body: S;
    handle(context: ApiContext, body: Static<S>): Promise<ApiAnswer>;
  },
): ApiCall => call as unknown as ApiCall;

const USER_NOT_FOUND = apiError(404, 'User not found.');

const NO_TARGET = apiError(400, 'target_user needs user_id or username.');

/** The user a call names (by user_id, else by username), or the answer saying why there is none. */
async function targetUser(
  db: Database,
  target: { user_id?: string; username?: string },
): Promise<{ user: User } | { answer: ApiAnswer }> {
  if (target.user_id === undefined && target.username === undefined) return { answer: NO_TARGET };
  const user =
    target.user_id !== undefined
      ? await findUserById(db, fromKasmId(target.user_id))
      : await findUserByUsername(db, target.username!);
  return user ? { user } : { answer: USER_NOT_FOUND };
}

/** A user in Kasm's shape, with their groups and sessions. */
async function userAnswer(db: Database, id: string, withIdentities = false) {
  const row = await kasmUserRow(db, id);
  if (!row) return USER_NOT_FOUND;
  const [{ groupsOf, sessionsOf }, identities] = await Promise.all([
    groupsAndSessionsOf(db, [id]),
    withIdentities ? identitiesOfUser(db, id) : Promise.resolve(null),
  ]);
  const user = kasmUser(row, groupsOf.get(id) ?? [], sessionsOf.get(id) ?? []);
  return ok({ user: identities ? { ...user, identities: identities.map(kasmIdentity) } : user });
}

/** validateUser's messages as one line that names each field. */
const fieldErrors = (errors: Record<string, string>) =>
  apiError(
    400,
    Object.entries(errors)
      .map(([field, message]) => `target_user.${field}: ${message}`)
      .join(' '),
  );

/** get_users: every user as Kasm answers it, read in batches so that no more than one batch sits in memory. */
function streamUsers(db: Database, batchSize: number): Readable {
  async function* chunks() {
    yield '{"users":[';
    let after: string | undefined;
    let first = true;
    for (;;) {
      const rows = await userBatch(db, { after, limit: batchSize });
      if (rows.length === 0) break;
      const { groupsOf, sessionsOf } = await groupsAndSessionsOf(
        db,
        rows.map((row) => row.id),
      );
      const text = rows
        .map((row) => JSON.stringify(kasmUser(row, groupsOf.get(row.id) ?? [], sessionsOf.get(row.id) ?? [])))
        .join(',');
      yield first ? text : `,${text}`;
      first = false;
      after = rows.at(-1)!.sortKey; // the database's key, as the next batch compares it
      if (rows.length < batchSize) break;
    }
    yield ']}';
  }
  return Readable.from(chunks());
}

const userExample = {
  username: 'jdoe',
  password: 'a long passphrase here',
  first_name: 'Jane',
  last_name: 'Doe',
  organization: 'Example',
  email: 'jdoe@example.com',
  locked: false,
  disabled: false,
};
const SOME_ID = '4f3bb6e4a3a84ad5a2a0b2f9c0f6b1e2';

export const API_CALLS: readonly ApiCall[] = [
  define({
    name: 'create_user',
    tag: 'Users',
    permission: 'users_create',
    summary:
      'Creates a user (in All Users; a local user also joins the Auto Add Local Users groups). Answers {"user": …}.',
    body: CreateUserBody,
    example: { target_user: userExample },
    async handle({ db, actor, passwordMinLength }, { target_user: target }) {
      const validation = validateUser(target, { mode: 'create', passwordMinLength });
      if (!validation.ok) return fieldErrors(validation.errors);
      const result = await createUser(db, actor, validation.user, validation.password);
      if (!result.ok) return apiAnswerOf(result.problem);
      return userAnswer(db, result.value.id);
    },
  }),
  define({
    name: 'get_user',
    tag: 'Users',
    permission: 'users_view',
    summary:
      'One user by target_user.user_id or target_user.username, with groups and sessions, and (Roster\'s own field) identities: the directory entries linked to them. Answers {"user": …}.',
    body: TargetUserBody,
    example: { target_user: { username: 'jdoe' } },
    async handle({ db }, { target_user: target }) {
      if (target.user_id !== undefined) return userAnswer(db, fromKasmId(target.user_id), true); // no read before the answer's own
      if (target.username === undefined) return NO_TARGET;
      const user = await findUserByUsername(db, target.username);
      return user ? userAnswer(db, user.id, true) : USER_NOT_FOUND;
    },
  }),
  define({
    name: 'get_users',
    tag: 'Users',
    permission: 'users_view',
    summary:
      'Every user, by user name, as Kasm answers it (streamed). Roster also takes page and page_size to answer one page. Answers {"users": […]}.',
    body: GetUsersBody,
    example: { page: 1, page_size: 100 },
    async handle({ db, streamBatch }, { page, page_size: pageSize }) {
      if (page === undefined && pageSize === undefined) return { status: 200, stream: streamUsers(db, streamBatch) };
      const size = pageSize ?? 100;
      const rows = await userBatch(db, { offset: ((page ?? 1) - 1) * size, limit: size });
      const { groupsOf, sessionsOf } = await groupsAndSessionsOf(
        db,
        rows.map((row) => row.id),
      );
      return ok({ users: rows.map((row) => kasmUser(row, groupsOf.get(row.id) ?? [], sessionsOf.get(row.id) ?? [])) });
    },
  }),
  define({
    name: 'update_user',
    tag: 'Users',
    permission: 'users_modify',
    summary:
      'Changes the fields given in target_user (user_id names the user; a password sets a new one). Answers {"user": …}.',
    body: UpdateUserBody,
    example: { target_user: { user_id: SOME_ID, first_name: 'Janet', locked: false } },
    async handle({ db, actor, passwordMinLength }, { target_user: { user_id: id, ...changes } }) {
      const user = await findUserById(db, fromKasmId(id));
      if (!user) return USER_NOT_FOUND;
      const validation = validateUser(
        { ...formValuesOf(user), ...changes },
        { mode: 'update', passwordMinLength, hasPassword: user.passwordHash !== null },
      );
      if (!validation.ok) return fieldErrors(validation.errors);
      const result = await updateUser(db, actor, user.id, user.version, validation.user, validation.password);
      if (!result.ok) return apiAnswerOf(result.problem);
      return userAnswer(db, user.id);
    },
  }),
  define({
    name: 'delete_user',
    tag: 'Users',
    permission: 'users_delete',
    summary:
      'Deletes a user. A user with workspace sessions is refused (409) unless force is true; then the sessions end with them. Answers {}.',
    body: DeleteUserBody,
    example: { target_user: { user_id: SOME_ID }, force: false },
    async handle({ db, actor }, { target_user: target, force }) {
      const found = await targetUser(db, target);
      if ('answer' in found) return found.answer;
      const { user } = found;
      if (!force) {
        if (await hasWorkspaceSessions(db, user.id))
          return apiError(
            409,
            `${user.username} has workspace sessions; send "force": true to delete them with the user.`,
          );
      }
      const result = await deleteUser(db, actor, user.id);
      return result.ok ? ok() : apiAnswerOf(result.problem);
    },
  }),
  define({
    name: 'logout_user',
    tag: 'Users',
    permission: 'users_auth_session',
    summary: 'Ends every login session of the user (their workspace sessions stay). Answers {}.',
    body: TargetUserBody,
    example: { target_user: { user_id: SOME_ID } },
    async handle({ db, actor }, { target_user: target }) {
      const found = await targetUser(db, target);
      if ('answer' in found) return found.answer;
      const { user } = found;
      const result = await logOutEverywhere(db, actor, user, (tx) =>
        refuseReachingUser(tx, actor, user, `Logging out ${user.username}`),
      );
      return result.ok ? ok() : apiError(403, result.message);
    },
  }),
  define({
    name: 'get_attributes',
    tag: 'Users',
    permission: 'users_view',
    summary: 'The user\'s own settings (null: the groups\' default applies). Answers {"user_attributes": …}.',
    body: TargetUserBody,
    example: { target_user: { user_id: SOME_ID } },
    async handle({ db }, { target_user: target }) {
      const found = await targetUser(db, target);
      if ('answer' in found) return found.answer;
      const { user } = found;
      const own = await userSettingValues(db, user.id);
      if (typeof own.default_image === 'string') own.default_image = toKasmId(own.default_image);
      return ok({
        user_attributes: kasmUserAttributes(
          user.id,
          own,
          USER_SETTINGS.map((s) => s.key),
        ),
      });
    },
  }),
  define({
    name: 'update_user_attributes',
    tag: 'Users',
    permission: 'users_modify',
    summary:
      "Sets the user's own settings given in target_user_attributes (null clears one: the groups' default applies). All or nothing. Answers {}.",
    body: UpdateUserAttributesBody,
    example: {
      target_user_attributes: { user_id: SOME_ID, theme: 'Dark', chat_sfx: false, preferred_timezone: 'Europe/Berlin' },
    },
    async handle({ db, actor }, { target_user_attributes: { user_id: id, ...attributes } }) {
      const user = await findUserById(db, fromKasmId(id));
      if (!user) return USER_NOT_FOUND;
      const workspaces = await workspaceCatalogue(db);
      const values: Array<[string, unknown]> = [];
      const errors: string[] = [];
      for (const setting of USER_SETTINGS) {
        const given = (attributes as Record<string, unknown>)[setting.key];
        if (given === undefined) continue;
        if (given === null) {
          values.push([setting.key, undefined]);
          continue;
        }
        const raw = setting.kind === 'image' ? fromKasmIdIfId(String(given)) : String(given);
        const parsed = parseUserSetting(setting, raw, (image) => workspaces.usable.has(image));
        if (parsed.ok) values.push([setting.key, parsed.value]);
        else errors.push(`target_user_attributes.${setting.key}: ${parsed.error}`);
      }
      if (errors.length > 0) return apiError(400, errors.join(' '));
      const refused = await db.transaction(async (tx) => {
        const refusal = await refuseStrongerUser(tx, actor, user);
        if (refusal) return refusal;
        for (const [key, value] of values)
          await saveUserSetting(tx, actor, user, key, value as Parameters<typeof saveUserSetting>[4]);
        return null;
      });
      return refused ? apiAnswerOf(refused.problem) : ok();
    },
  }),
  define({
    name: 'add_user_group',
    tag: 'Groups',
    permission: 'groups_modify',
    summary:
      'Adds target_user to target_group (no way up: the key must hold every permission the group grants). Answers {}.',
    body: UserGroupBody,
    example: { target_user: { user_id: SOME_ID }, target_group: { group_id: SOME_ID } },
    handle: (context, body) => membershipCall(context, body, 'add'),
  }),
  define({
    name: 'remove_user_group',
    tag: 'Groups',
    permission: 'groups_modify',
    summary: 'Removes target_user from target_group. Answers {}.',
    body: UserGroupBody,
    example: { target_user: { user_id: SOME_ID }, target_group: { group_id: SOME_ID } },
    handle: (context, body) => membershipCall(context, body, 'remove'),
  }),
  define({
    name: 'get_groups',
    tag: 'Groups',
    permission: 'groups_view',
    summary:
      'Roster\'s own call: every group the key may see, by priority. Answers {"groups": [{group_id, name, priority, is_system}]}.',
    body: EmptyApiBody,
    example: {},
    async handle({ db, actor }) {
      const rows = (await groupChoices(db)).filter((group) => canViewGroup(actor, group));
      return ok({
        groups: rows.map((group) => ({
          group_id: toKasmId(group.id),
          name: group.name,
          priority: group.priority,
          is_system: group.isSystem,
        })),
      });
    },
  }),
  define({
    name: 'get_group',
    tag: 'Groups',
    permission: 'groups_view',
    summary: `Roster's own call: one group with a page of its members (${MEMBERS_PER_PAGE} per page, by user name). Answers {"group": …}.`,
    body: GetGroupBody,
    example: { target_group: { group_id: SOME_ID }, page: 1 },
    async handle({ db, actor }, { target_group: { group_id: id }, page = 1 }) {
      const group = await findGroup(db, fromKasmId(id));
      if (!group || !canViewGroup(actor, group)) return apiError(404, 'Group not found.');
      const members = await membersOfGroup(db, group.id, { page });
      return ok({
        group: {
          group_id: toKasmId(group.id),
          name: group.name,
          description: group.description,
          priority: group.priority,
          is_system: group.isSystem,
          member_count: members.total,
          page,
          pages: Math.max(1, Math.ceil(members.total / MEMBERS_PER_PAGE)),
          users: members.rows.map((member) => ({
            user_id: toKasmId(member.id),
            username: member.username,
            first_name: member.firstName,
            last_name: member.lastName,
          })),
        },
      });
    },
  }),
  define({
    name: 'get_auth_providers',
    tag: 'Authentication',
    permission: 'auth_view',
    summary:
      'Roster\'s own call: the identity providers (LDAP directories) in the order they are tried, with their last sync; never a secret. Answers {"auth_providers": [{provider_id, kind, name, enabled, order, last_sync_at, last_sync}]}.',
    body: EmptyApiBody,
    example: {},
    async handle({ db }) {
      const rows = await listIdentityProviders(db);
      return ok({
        auth_providers: rows.map((provider) => ({
          provider_id: toKasmId(provider.id),
          kind: provider.kind,
          name: provider.name,
          enabled: provider.enabled,
          order: provider.sortOrder,
          last_sync_at: provider.lastSyncAt?.toISOString() ?? null,
          last_sync: provider.lastSync
            ? {
                outcome: provider.lastSync.outcome,
                seen: provider.lastSync.seen,
                updated: provider.lastSync.updated,
                disabled: provider.lastSync.disabled,
                enabled: provider.lastSync.enabled,
                errors: provider.lastSync.errors,
                message: provider.lastSync.message,
              }
            : null,
        })),
      });
    },
  }),
  define({
    name: 'get_group_mappings',
    tag: 'Groups',
    permission: 'groups_view',
    summary:
      'Roster\'s own call: the SSO group mappings of target_group (docs/rules.md#sso-group-mappings). Answers {"group_mappings": [{group_mapping_id, group_id, provider_id, provider_name, all_users, group_dn}]}.',
    body: GroupMappingsBody,
    example: { target_group: { group_id: SOME_ID } },
    async handle({ db, actor }, { target_group: { group_id: id } }) {
      const group = await findGroup(db, fromKasmId(id));
      if (!group || !canViewGroup(actor, group)) return apiError(404, 'Group not found.');
      return ok({ group_mappings: (await listGroupMappings(db, group.id)).map(kasmGroupMapping) });
    },
  }),
  define({
    name: 'add_group_mapping',
    tag: 'Groups',
    permission: 'groups_modify',
    summary:
      'Roster\'s own call: maps users of an identity provider (all_users, or those in group_dn) into target_group; they join at their next login or sync. No way up: the key must hold every permission the group grants. Answers {"group_mapping": …}.',
    body: AddGroupMappingBody,
    example: {
      target_group: { group_id: SOME_ID },
      target_group_mapping: {
        provider_id: SOME_ID,
        all_users: false,
        group_dn: 'cn=Admins,ou=Groups,dc=example,dc=com',
      },
    },
    async handle({ db, actor }, { target_group: { group_id: id }, target_group_mapping: mapping }) {
      const group = await findGroup(db, fromKasmId(id));
      if (!group || !canViewGroup(actor, group)) return apiError(404, 'Group not found.');
      const result = await addGroupMapping(db, actor, group, {
        providerId: fromKasmId(mapping.provider_id),
        allUsers: mapping.all_users ?? false,
        groupDns: [mapping.group_dn ?? ''],
      });
      if (!result.ok) return apiAnswerOf(mappingProblem(result.problem));
      return ok({ group_mapping: kasmGroupMapping(result.value[0]!) });
    },
  }),
  define({
    name: 'delete_group_mapping',
    tag: 'Groups',
    permission: 'groups_modify',
    summary:
      "Roster's own call: deletes an SSO group mapping. The memberships it made stay until each user's next login or sync. Answers {}.",
    body: DeleteGroupMappingBody,
    example: { target_group_mapping: { group_mapping_id: SOME_ID } },
    async handle({ db, actor }, { target_group_mapping: { group_mapping_id: mappingId } }) {
      const mapping = await findGroupMappingById(db, fromKasmId(mappingId));
      const group = mapping && (await findGroup(db, mapping.groupId));
      if (!mapping || !group || !canViewGroup(actor, group)) return apiError(404, 'Group mapping not found.');
      const result = await deleteGroupMapping(db, actor, group, mapping.id);
      return result.ok ? ok() : apiAnswerOf(result.problem);
    },
  }),
  define({
    name: 'get_images',
    tag: 'Workspaces',
    permission: 'images_view',
    summary: 'Every workspace (image). memory is in bytes, as Kasm counts it. Answers {"images": […]}.',
    body: EmptyApiBody,
    example: {},
    async handle({ db }) {
      return ok({ images: (await listWorkspaces(db)).map(kasmImage) });
    },
  }),
  define({
    name: 'request_kasm',
    tag: 'Sessions',
    permission: 'users_auth_session',
    summary:
      "Starts a workspace session for user_id: image_id, else the user's default workspace. Records it with its launch plan, within Max Sessions Per User. Answers {kasm_id, status, user_id, username, kasm_url}.",
    body: RequestKasmBody,
    example: { user_id: SOME_ID, image_id: SOME_ID },
    async handle({ db, actor, now }, { user_id: userId, image_id: imageId }) {
      const user = await findUserById(db, fromKasmId(userId));
      if (!user) return USER_NOT_FOUND;
      let workspace;
      if (imageId === undefined) {
        const found = await defaultWorkspaceOf(db, user.id);
        if (!found.ok) return apiError(409, noDefaultMessage(found, user.username));
        workspace = found.workspace;
      } else {
        workspace = await findWorkspace(db, fromKasmId(imageId));
        if (!workspace) return apiError(404, 'Image not found.');
      }
      // The key launches on the user's behalf: for a stronger user, that needs users_modify_admin.
      const check: RefusalCheck = (tx) =>
        refuseReachingUser(tx, actor, user, `Launching a workspace session for ${user.username}`);
      const result = await launch(db, actor, user, workspace, now, undefined, check);
      if (!result.ok) return apiAnswerOf(result.problem);
      const id = result.value.id;
      return ok({
        kasm_id: toKasmId(id),
        status: 'running',
        user_id: toKasmId(user.id),
        username: user.username,
        kasm_url: kasmUrl(id),
      });
    },
  }),
  define({
    name: 'get_kasm_status',
    tag: 'Sessions',
    permission: 'users_auth_session',
    summary:
      'One workspace session (a user_id, if given, must be its owner). Answers {"kasm": …, "operational_status", "current_time"}.',
    body: KasmBody,
    example: { kasm_id: SOME_ID, user_id: SOME_ID },
    async handle({ db, now }, body) {
      const session = await sessionNamed(db, body);
      if (!session) return apiError(404, 'Kasm not found.');
      return ok({ kasm: kasmSession(session), operational_status: 'running', current_time: now.toISOString() });
    },
  }),
  define({
    name: 'get_kasms',
    tag: 'Sessions',
    permission: 'users_auth_session',
    summary: 'Every workspace session, oldest first. Answers {"kasms": […], "current_time"}.',
    body: EmptyApiBody,
    example: {},
    async handle({ db, now }) {
      return ok({ kasms: (await kasmSessions(db)).map(kasmSession), current_time: now.toISOString() });
    },
  }),
  define({
    name: 'destroy_kasm',
    tag: 'Sessions',
    permission: 'users_auth_session',
    summary: 'Ends a workspace session. Answers {}.',
    body: KasmBody,
    example: { kasm_id: SOME_ID, user_id: SOME_ID },
    async handle({ db, actor }, body) {
      const session = await sessionNamed(db, body);
      if (!session) return apiError(404, 'Kasm not found.');
      const ended = await endWorkspaceSession(
        db,
        actor,
        session,
        ofSessionOwner(actor, session, 'Ending a workspace session of'),
      );
      if (ended.ok) return ok();
      return ended.problem.kind === 'not_found' ? apiError(404, 'Kasm not found.') : apiAnswerOf(ended.problem);
    },
  }),
  define({
    name: 'keepalive',
    tag: 'Sessions',
    permission: 'users_auth_session',
    summary:
      'Moves a workspace session\'s keepalive to now, which moves its expiration. Answers {"usage_reached": false}.',
    body: KasmBody,
    example: { kasm_id: SOME_ID },
    async handle({ db, actor, now }, body) {
      const session = await sessionNamed(db, body);
      if (!session) return apiError(404, 'Kasm not found.');
      const kept = await keepSessionAlive(
        db,
        session.id,
        now,
        ofSessionOwner(actor, session, 'Keeping alive a workspace session of'),
      );
      if (typeof kept === 'object') return apiError(403, kept.refused);
      return kept === 'kept' ? ok({ usage_reached: false }) : apiError(404, 'Kasm not found.');
    },
  }),
];

/** A default_image given as a Kasm id becomes the workspace's UUID; anything else is left for the parser to refuse. */
function fromKasmIdIfId(value: string): string {
  return /^[0-9a-fA-F]{32}$/.test(value) ? fromKasmId(value) : value;
}

/** A key acting on a user's workspace session: a stronger user's needs users_modify_admin. */
function ofSessionOwner(
  actor: Actor,
  session: { userId: string; username: string; realm: string },
  action: string,
): RefusalCheck {
  const owner = { id: session.userId, username: session.username, realm: session.realm };
  return (tx) => refuseReachingUser(tx, actor, owner, `${action} ${session.username}`);
}

/** The session a kasm call names; with user_id, only if it is that user's. */
async function sessionNamed(db: Database, body: { kasm_id: string; user_id?: string }) {
  const session = await kasmSessionById(db, fromKasmId(body.kasm_id));
  if (!session || (body.user_id !== undefined && session.userId !== fromKasmId(body.user_id))) return undefined;
  return session;
}

/** An SSO group mapping in the API's field names. */
const kasmGroupMapping = (mapping: GroupMappingRow) => ({
  group_mapping_id: toKasmId(mapping.id),
  group_id: toKasmId(mapping.groupId),
  provider_id: toKasmId(mapping.providerId),
  provider_name: mapping.providerName,
  all_users: mapping.allUsers,
  group_dn: mapping.groupDn,
});

/** The form's field names in a mapping's Problem, as the API names them. */
const MAPPING_FIELDS: Record<string, string> = {
  provider_id: 'target_group_mapping.provider_id',
  all_users: 'target_group_mapping.all_users',
  group_dns: 'target_group_mapping.group_dn',
};
const mappingProblem = (problem: Problem): Problem =>
  problem.field && MAPPING_FIELDS[problem.field]
    ? { ...problem, message: `${MAPPING_FIELDS[problem.field]}: ${problem.message}` }
    : problem;

/** add_user_group and remove_user_group: the command checks, audits and answers every refusal. */
async function membershipCall(
  { db, actor }: ApiContext,
  body: { target_user: { user_id?: string; username?: string }; target_group: { group_id: string } },
  change: 'add' | 'remove',
): Promise<ApiAnswer> {
  const found = await targetUser(db, body.target_user);
  if ('answer' in found) return found.answer;
  const { user } = found;
  const group = await findGroup(db, fromKasmId(body.target_group.group_id));
  if (!group || !canViewGroup(actor, group)) return apiError(404, 'Group not found.');
  const result = await changeMembership(db, actor, group, user, change);
  return result.ok ? ok() : apiAnswerOf(result.problem);
}
