// docs/rules.md#permissions-and-no-way-up, "a document built from parts shows each part only to a caller who may view that
// part on its own" (issue 18, finding 1). A walk: every owner kind of a file mapping × caller
// permission sets × every route and API call that returns mapping content or metadata. Each
// mapping's name, path and content must appear exactly when the caller may both reach the route
// and view the mapping's owner; documents built from many mappings (plan JSON, preview, session
// page) count the others as withheld. The expectations are written out below, not computed by
// the rule under test. A new GET route under /launch…, …/file-mappings… or /workspace-sessions…,
// or a new API call, fails the classification test until it is walked or listed as carrying none.
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CALLS } from '../../src/api/api-calls.js';
import { SYSTEM_ACTOR } from '../../src/security/actor.js';
import {
  auditEvents,
  fileMappings,
  userGroups,
  users,
  workspaces,
  workspaceSessions,
  type Workspace,
} from '../../src/db/schema.js';
import { sha256Hex } from '../../src/file-mappings/mapping-input.js';
import { systemGroupId } from '../../src/groups/groups-queries.js';
import { WITHHELD_SHADOW_REASON, type PlanForCaller } from '../../src/launches/launch-plan.js';
import type { LaunchPlan } from '../../src/workspaces/recorded-launch-plan.js';
import { launch } from '../../src/launches/launches-commands.js';
import { hashPassword } from '../../src/security/passwords.js';
import { insertApiKey, type TestApiKey } from '../helpers/api.js';
import { TestClient } from '../helpers/client.js';
import { createGroup, loggedInClient } from '../helpers/factories.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';

type OwnerCase =
  'workspace' | 'disabled workspace' | 'group' | 'member group' | 'Administrators' | 'the user' | 'another user';
const OWNER_CASES: readonly OwnerCase[] = [
  'workspace',
  'disabled workspace',
  'group',
  'member group',
  'Administrators',
  'the user',
  'another user',
];

/**
 * The callers. `sees`: the owners whose mappings the rule lets them view (written out by hand).
 * "the user" is T, whose plans are walked (self: T logged in, holding only `user`); "another
 * user" is O. Sessions of others need users_auth_session, so most sets add it to reach them.
 */
interface Caller {
  label: string;
  permissions: string[];
  as: 'admin' | 'self' | 'key';
  /** Member of the member group (for groups_view_ifmember). */
  member?: boolean;
  sees: readonly OwnerCase[];
}
const USERS: OwnerCase[] = ['the user', 'another user'];
const SESSION = ['users_view', 'users_auth_session'];
const CALLERS: readonly Caller[] = [
  { label: 'users_view only', permissions: ['users_view'], as: 'admin', sees: USERS },
  { label: 'users_view + users_auth_session', permissions: SESSION, as: 'admin', sees: USERS },
  {
    label: '… + images_view',
    permissions: [...SESSION, 'images_view'],
    as: 'admin',
    sees: [...USERS, 'workspace', 'disabled workspace'],
  },
  {
    label: '… + groups_view',
    permissions: [...SESSION, 'groups_view'],
    as: 'admin',
    sees: [...USERS, 'group', 'member group'],
  },
  {
    label: '… + groups_view_ifmember, as a member',
    permissions: [...SESSION, 'groups_view_ifmember'],
    as: 'admin',
    member: true,
    sees: [...USERS, 'member group'],
  },
  {
    label: '… + groups_view + groups_view_system',
    permissions: [...SESSION, 'groups_view', 'groups_view_system'],
    as: 'admin',
    sees: [...USERS, 'group', 'member group', 'Administrators'],
  },
  { label: 'global_admin', permissions: ['global_admin'], as: 'admin', sees: OWNER_CASES },
  { label: 'the user themselves (only `user`)', permissions: [], as: 'self', sees: ['the user'] },
  { label: 'API key: users_view + users_auth_session', permissions: SESSION, as: 'key', sees: USERS },
  {
    label: 'API key: every view permission',
    permissions: [...SESSION, 'images_view', 'groups_view', 'groups_view_ifmember', 'groups_view_system'],
    as: 'key',
    sees: OWNER_CASES.filter((o) => o !== 'member group'),
  },
  { label: 'API key: global_admin', permissions: ['global_admin'], as: 'key', sees: OWNER_CASES },
];
const has = (caller: Caller, permission: string) =>
  caller.permissions.includes('global_admin') || caller.permissions.includes(permission);

/** The mappings: unique markers for name, content and (unless two share it) path. */
type ItemKey =
  | 'wsmain'
  | 'wsshadow'
  | 'wdmain'
  | 'gmain'
  | 'gshadowed'
  | 'gmmain'
  | 'gmshadow'
  | 'admmain'
  | 'umain'
  | 'ushadowed'
  | 'omain';
const ITEMS: Record<ItemKey, { owner: OwnerCase; path?: string }> = {
  wsmain: { owner: 'workspace' },
  wsshadow: { owner: 'workspace', path: '/walk/shared-ws' },
  wdmain: { owner: 'disabled workspace' },
  gmain: { owner: 'group' },
  gshadowed: { owner: 'group', path: '/walk/shared-ws' }, // loses to wsshadow in plans of W
  gmmain: { owner: 'member group' },
  gmshadow: { owner: 'member group', path: '/walk/shared-gm' },
  admmain: { owner: 'Administrators' },
  umain: { owner: 'the user' },
  ushadowed: { owner: 'the user', path: '/walk/shared-gm' }, // loses to gmshadow
  omain: { owner: 'another user' },
};
const ITEM_KEYS = Object.keys(ITEMS) as ItemKey[];
const nameOf = (key: ItemKey) => `N-${key}-N`;
const pathOf = (key: ItemKey) => ITEMS[key].path ?? `/walk/P-${key}-P`;
const contentOf = (key: ItemKey) => `C-${key}-C`;
const base64Of = (key: ItemKey) => Buffer.from(contentOf(key)).toString('base64');

/** The plans walked: whose, of which workspace, what they apply and skip (skipped: [item, winner]). */
type PlanKey = 'T on W' | 'T on disabled WD' | 'admin A on W' | 'O on W';
const PLANS: Record<
  PlanKey,
  { user: 'T' | 'A' | 'O'; workspace: 'W' | 'WD'; applied: ItemKey[]; skipped: Array<[ItemKey, ItemKey]> }
> = {
  'T on W': {
    user: 'T',
    workspace: 'W',
    applied: ['wsmain', 'wsshadow', 'gmain', 'gmmain', 'gmshadow', 'umain'],
    skipped: [
      ['gshadowed', 'wsshadow'],
      ['ushadowed', 'gmshadow'],
    ],
  },
  'T on disabled WD': {
    user: 'T',
    workspace: 'WD',
    applied: ['wdmain', 'gmain', 'gshadowed', 'gmmain', 'gmshadow', 'umain'],
    skipped: [['ushadowed', 'gmshadow']],
  },
  'admin A on W': { user: 'A', workspace: 'W', applied: ['wsmain', 'wsshadow', 'admmain'], skipped: [] },
  'O on W': { user: 'O', workspace: 'W', applied: ['wsmain', 'wsshadow', 'omain'], skipped: [] },
};

// Routes walked, as the route table names them.
const OWNER_BASES = {
  workspace: '/admin/workspaces/:id',
  group: '/admin/groups/:id',
  user: '/admin/users/:id',
} as const;
const PLAN_ROUTES = [
  'GET /admin/users/:id/launch-plan.json',
  'GET /admin/users/:id/launch-preview',
  'GET /workspace-sessions/:id',
] as const;
const MAPPING_ROUTES = (['', '/download', '/delete'] as const).flatMap((suffix) =>
  Object.values(OWNER_BASES).map((base) => `GET ${base}/file-mappings/:mappingId${suffix}`),
);
const OWNER_PAGES = Object.values(OWNER_BASES).map((base) => `GET ${base}`); // their File Mappings lists
const WALKED_ROUTES = new Set<string>([...PLAN_ROUTES, ...MAPPING_ROUTES, ...OWNER_PAGES]);
const CARRIES_NO_MAPPING: Record<string, string> = {
  ...Object.fromEntries(Object.values(OWNER_BASES).map((base) => [`GET ${base}/file-mappings/new`, 'an empty form'])),
  'GET /workspace-sessions/:id/end': "the confirm step: the session's workspace and user, no plan",
};
/** API calls whose answers carry kasms (sessions) or users with their kasms: walked. */
const WALKED_CALLS = ['get_user', 'get_users', 'get_kasm_status', 'get_kasms', 'request_kasm'] as const;
const CALLS_WITHOUT_PLANS: Record<string, string> = {
  create_user: "answers a new user in get_user's shape (no sessions yet)",
  update_user: "answers the user in get_user's shape, which get_user walks",
  delete_user: 'answers {}',
  logout_user: 'answers {}',
  get_attributes: "the user's own settings",
  update_user_attributes: 'answers {}',
  add_user_group: 'answers {}',
  remove_user_group: 'answers {}',
  get_groups: 'group names and priorities',
  get_group: 'a group and its members',
  get_images: 'the workspaces, no mappings',
  get_auth_providers: 'identity providers and their last sync counts, no mappings',
  get_group_mappings: 'which directory groups map into a group; no file mappings',
  add_group_mapping: 'answers the new SSO group mapping',
  delete_group_mapping: 'answers {}',
  destroy_kasm: 'answers {}',
  keepalive: 'answers {"usage_reached": false}',
};

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

interface World {
  ids: {
    users: Record<'T' | 'A' | 'O', string>;
    workspaces: Record<'W' | 'WD', string>;
    groups: Record<'group' | 'member group' | 'Administrators', string>;
  };
  mappingIds: Record<ItemKey, string>;
  sessions: Record<PlanKey, string>;
  clients: Map<Caller, TestClient | TestApiKey>;
}

let built: Promise<World> | undefined;
/** The mappings, their owners, the sessions and the callers: made once, read by every walk. */
const world = () => (built ??= buildWorld());

async function buildWorld(): Promise<World> {
  const db = t.handle.db;
  const passwordHash = await hashPassword(USER_PASSWORD);
  const allUsers = await systemGroupId(db, 'all_users');
  const administrators = await systemGroupId(db, 'administrators');
  const group = async (name: string, permissions: string[]) =>
    (await createGroup(db, { name, priorityFrom: 300, permissions })).id;
  const user = async (username: string, groupIds: string[]) => {
    const [row] = await db.insert(users).values({ username, passwordHash }).returning();
    await db.insert(userGroups).values([allUsers, ...groupIds].map((groupId) => ({ userId: row!.id, groupId })));
    return row!;
  };
  const workspace = async (friendlyName: string) =>
    (await db.insert(workspaces).values({ friendlyName, image: 'kasmweb/walk:1' }).returning())[0]!;

  const [w, wd] = [await workspace('Walk W'), await workspace('Walk WD')];
  const ids = {
    workspaces: { W: w.id, WD: wd.id },
    groups: {
      group: await group('Walk group', []),
      'member group': await group('Walk member group', []),
      Administrators: administrators,
    },
  };
  const [tUser, aUser, oUser] = [
    await user('walk-t', [ids.groups.group, ids.groups['member group']]),
    await user('walk-a', [administrators]),
    await user('walk-o', []),
  ];
  const world = { ids: { ...ids, users: { T: tUser.id, A: aUser.id, O: oUser.id } } } as World;

  const ownerColumn = (owner: OwnerCase) =>
    ({
      workspace: { workspaceId: w.id },
      'disabled workspace': { workspaceId: wd.id },
      group: { groupId: ids.groups.group },
      'member group': { groupId: ids.groups['member group'] },
      Administrators: { groupId: administrators },
      'the user': { userId: tUser.id },
      'another user': { userId: oUser.id },
    })[owner];
  world.mappingIds = {} as Record<ItemKey, string>;
  for (const key of ITEM_KEYS) {
    const content = Buffer.from(contentOf(key));
    const [row] = await db
      .insert(fileMappings)
      .values({
        ...ownerColumn(ITEMS[key].owner),
        name: nameOf(key),
        destinationPath: pathOf(key),
        content,
        size: content.length,
        sha256: sha256Hex(content),
      })
      .returning();
    world.mappingIds[key] = row!.id;
  }

  // Sessions are recorded while WD is enabled; then WD is disabled (its plans stay readable).
  const byName = { T: tUser, A: aUser, O: oUser };
  const byWorkspace: Record<'W' | 'WD', Workspace> = { W: w, WD: wd };
  world.sessions = {} as Record<PlanKey, string>;
  for (const [key, plan] of Object.entries(PLANS) as Array<[PlanKey, (typeof PLANS)[PlanKey]]>) {
    const result = await launch(
      db,
      SYSTEM_ACTOR,
      byName[plan.user],
      byWorkspace[plan.workspace],
      new Date(t.clock.now()),
    );
    if (!result.ok) throw new Error(`launch ${key}: ${result.problem.message}`);
    world.sessions[key] = result.value.id;
  }
  await db.update(workspaces).set({ enabled: false }).where(eq(workspaces.id, wd.id));

  world.clients = new Map();
  let n = 0;
  for (const caller of CALLERS) {
    if (caller.as === 'key') {
      world.clients.set(caller, await insertApiKey(db, { name: `walk key ${++n}`, permissions: caller.permissions }));
      continue;
    }
    const username = caller.as === 'self' ? tUser.username : `walk-caller-${++n}`;
    if (caller.as === 'admin')
      await user(username, [
        await group(`Walk caller ${n}`, caller.permissions),
        ...(caller.member ? [ids.groups['member group']] : []),
      ]);
    const client = await loggedInClient(t.app, username);
    world.clients.set(caller, client);
  }
  return world;
}

/** A GET as the caller: with its session cookie, or (a key) with its Basic credentials. */
async function getAs(world: World, caller: Caller, url: string) {
  const client = world.clients.get(caller)!;
  if (client instanceof TestClient) return client.get(url);
  return t.app.inject({ method: 'GET', url, headers: { authorization: client.basic } });
}

/** What one response must show: the items it shows when reachable, and which of their markers. */
interface Expectation {
  reachable: boolean;
  items: readonly ItemKey[];
  markers: ReadonlyArray<'name' | 'path' | 'content' | 'base64'>;
}

let cases = 0;
const triples = new Set<string>();

/**
 * Each item's markers appear exactly when the response is reachable, the item is among those it
 * shows, and the caller may view its owner; every other item's markers are absent (a path two
 * items share is absent only when neither is shown).
 */
function checkMarkers(body: string, caller: Caller, route: string, expectation: Expectation, where: string) {
  const shown = new Set(
    expectation.reachable ? expectation.items.filter((key) => caller.sees.includes(ITEMS[key].owner)) : [],
  );
  const shownPaths = new Set([...shown].map(pathOf));
  for (const key of ITEM_KEYS) {
    const markers = { name: nameOf(key), path: pathOf(key), content: contentOf(key), base64: base64Of(key) };
    const at = `${where}: ${key} (${ITEMS[key].owner})`;
    if (expectation.items.includes(key)) {
      cases++;
      triples.add(`${ITEMS[key].owner}|${caller.label}|${route}`);
    }
    if (shown.has(key)) {
      for (const marker of expectation.markers) expect(body, `${at} shows its ${marker}`).toContain(markers[marker]);
    } else {
      for (const marker of ['name', 'content', 'base64'] as const)
        expect(body, `${at} hides its ${marker}`).not.toContain(markers[marker]);
      if (!shownPaths.has(markers.path)) expect(body, `${at} hides its path`).not.toContain(markers.path);
    }
  }
}

/** The withheld counts a plan must show this caller. */
function withheld(caller: Caller, plan: (typeof PLANS)[PlanKey]) {
  const hidden = (key: ItemKey) => !caller.sees.includes(ITEMS[key].owner);
  return { files: plan.applied.filter(hidden).length, skipped: plan.skipped.filter(([key]) => hidden(key)).length };
}

const sentence = (n: number, what: string) =>
  `${n === 1 ? `1 ${what} is` : `${n} ${what}s are`} withheld: you may not view their owners.`;

describe('derived documents show each mapping only to a caller who may view its owner', () => {
  it('walks the plan JSON, the preview and the session page of every plan, for every caller', async () => {
    const w = await world();
    for (const [planKey, plan] of Object.entries(PLANS) as Array<[PlanKey, (typeof PLANS)[PlanKey]]>) {
      const items = [...plan.applied, ...plan.skipped.map(([key]) => key)];
      const userId = w.ids.users[plan.user];
      const query = `?workspace=${w.ids.workspaces[plan.workspace]}`;
      for (const caller of CALLERS) {
        const counts = withheld(caller, plan);
        const asAdmin = caller.as === 'admin';
        const urls: Record<(typeof PLAN_ROUTES)[number], { url: string; reachable: boolean }> = {
          'GET /admin/users/:id/launch-plan.json': {
            url: `/admin/users/${userId}/launch-plan.json${query}`,
            reachable: asAdmin && has(caller, 'users_view'),
          },
          'GET /admin/users/:id/launch-preview': {
            url: `/admin/users/${userId}/launch-preview${query}`,
            reachable: asAdmin && has(caller, 'users_view'),
          },
          'GET /workspace-sessions/:id': {
            url: `/workspace-sessions/${w.sessions[planKey]}`,
            reachable: (asAdmin && has(caller, 'users_auth_session')) || (caller.as === 'self' && plan.user === 'T'),
          },
        };
        for (const route of PLAN_ROUTES) {
          const { url, reachable } = urls[route];
          const where = `${planKey} · ${caller.label} · ${route}`;
          const response = await getAs(w, caller, url);
          expect(response.statusCode === 200, `${where} answers ${response.statusCode}`).toBe(reachable);
          const json = route.endsWith('.json');
          checkMarkers(response.body, caller, route, { reachable, items, markers: ['name', 'path'] }, where);
          if (!reachable) continue;
          if (json) {
            const shown = response.json<PlanForCaller>();
            expect(
              { files: shown.withheld_file_mappings, skipped: shown.withheld_skipped_file_mappings },
              where,
            ).toEqual(counts);
            for (const key of plan.applied.filter((k) => caller.sees.includes(ITEMS[k].owner))) {
              expect(
                shown.file_mappings.find((m) => m.name === nameOf(key))?.content_base64,
                `${where}: ${key}'s content`,
              ).toBe(base64Of(key));
            }
            for (const [key, winner] of plan.skipped.filter(([k]) => caller.sees.includes(ITEMS[k].owner))) {
              const reason = shown.skipped_file_mappings.find((m) => m.name === nameOf(key))?.reason;
              expect(reason, `${where}: why ${key} is skipped`).toContain(
                caller.sees.includes(ITEMS[winner].owner)
                  ? `shadowed by ${describedAs(winner)}`
                  : WITHHELD_SHADOW_REASON,
              );
            }
          } else {
            for (const [n, what] of [
              [counts.files, 'file mapping'],
              [counts.skipped, 'skipped file mapping'],
            ] as const) {
              if (n > 0) expect(response.body, where).toContain(sentence(n, what));
              else expect(response.body, where).not.toContain(`${what} is withheld`);
            }
            if (counts.files === 0 && counts.skipped === 0) expect(response.body, where).not.toContain('withheld');
          }
        }
      }
    }
    // Only what is shown is filtered: the recorded plans (what the runtime receives) hold everything.
    for (const [planKey, plan] of Object.entries(PLANS) as Array<[PlanKey, (typeof PLANS)[PlanKey]]>) {
      const [row] = await t.handle.db
        .select()
        .from(workspaceSessions)
        .where(eq(workspaceSessions.id, w.sessions[planKey]));
      const recorded = row!.plan as LaunchPlan;
      expect(recorded.file_mappings.map((m) => m.name).sort(), planKey).toEqual(plan.applied.map(nameOf).sort());
      expect(recorded.skipped_file_mappings.map((m) => m.name).sort(), planKey).toEqual(
        plan.skipped.map(([key]) => nameOf(key)).sort(),
      );
    }
  });

  it("walks each owner's page, mapping pages, downloads and delete confirmations, for every caller", async () => {
    const w = await world();
    const ownerOf = (owner: OwnerCase) =>
      ({
        workspace: { base: OWNER_BASES.workspace, id: w.ids.workspaces.W },
        'disabled workspace': { base: OWNER_BASES.workspace, id: w.ids.workspaces.WD },
        group: { base: OWNER_BASES.group, id: w.ids.groups.group },
        'member group': { base: OWNER_BASES.group, id: w.ids.groups['member group'] },
        Administrators: { base: OWNER_BASES.group, id: w.ids.groups.Administrators },
        'the user': { base: OWNER_BASES.user, id: w.ids.users.T },
        'another user': { base: OWNER_BASES.user, id: w.ids.users.O },
      })[owner];
    for (const owner of OWNER_CASES) {
      const { base, id } = ownerOf(owner);
      const page = base.replace(':id', id);
      const items = ITEM_KEYS.filter((key) => ITEMS[key].owner === owner);
      for (const caller of CALLERS) {
        // The admin pages need their own permission too: the user themselves has none of them.
        const reachable = caller.as === 'admin' && caller.sees.includes(owner);
        const ownPage = await getAs(w, caller, page);
        const where = `${owner} · ${caller.label}`;
        expect(ownPage.statusCode === 200, `${where} · GET ${base} answers ${ownPage.statusCode}`).toBe(reachable);
        checkMarkers(
          ownPage.body,
          caller,
          `GET ${base}`,
          { reachable, items, markers: ['name', 'path'] },
          `${where} · GET ${base}`,
        );
        for (const key of items) {
          const mapping = `${page}/file-mappings/${w.mappingIds[key]}`;
          const routes = [
            { suffix: '', reachable, markers: ['name', 'path', 'content'] as const },
            { suffix: '/download', reachable, markers: ['content'] as const },
            {
              suffix: '/delete',
              reachable: reachable && has(caller, 'global_admin'),
              markers: ['name', 'path'] as const,
            }, // needs *_modify
          ];
          for (const route of routes) {
            const name = `GET ${base}/file-mappings/:mappingId${route.suffix}`;
            const response = await getAs(w, caller, mapping + route.suffix);
            expect(response.statusCode === 200, `${where} · ${name} answers ${response.statusCode}`).toBe(
              route.reachable,
            );
            checkMarkers(
              response.body,
              caller,
              name,
              { reachable: route.reachable, items: [key], markers: route.markers },
              `${where} · ${name}`,
            );
          }
        }
      }
    }
  });

  it('walks the API calls that answer sessions and users: none carries a mapping, for any caller', async () => {
    const w = await world();
    const everything: ItemKey[] = [...ITEM_KEYS];
    const bodies: Array<[(typeof WALKED_CALLS)[number], Record<string, unknown>]> = [
      ...(['T', 'A', 'O'] as const).map(
        (u) =>
          ['get_user', { target_user: { user_id: w.ids.users[u] } }] as [
            (typeof WALKED_CALLS)[number],
            Record<string, unknown>,
          ],
      ),
      ['get_users', {}],
      ['get_users', { page: 1, page_size: 100 }],
      ['get_kasms', {}],
      ...Object.values(w.sessions).map(
        (id) => ['get_kasm_status', { kasm_id: id }] as [(typeof WALKED_CALLS)[number], Record<string, unknown>],
      ),
      ...Object.values(PLANS).map(
        (p) =>
          ['request_kasm', { user_id: w.ids.users[p.user], image_id: w.ids.workspaces[p.workspace] }] as [
            (typeof WALKED_CALLS)[number],
            Record<string, unknown>,
          ],
      ),
    ];
    expect(new Set(bodies.map(([call]) => call))).toEqual(new Set(WALKED_CALLS));
    for (const caller of CALLERS) {
      const client = w.clients.get(caller)!;
      for (const [call, body] of bodies) {
        const where = `${caller.label} · ${call} ${JSON.stringify(body)}`;
        const response =
          client instanceof TestClient
            ? await t.app.inject({
                method: 'POST',
                url: `/api/public/${call}`,
                payload: body,
                headers: { cookie: client.cookieHeader() },
              })
            : await t.app.inject({
                method: 'POST',
                url: `/api/public/${call}`,
                payload: { api_key: client.key, api_key_secret: client.secret, ...body },
              });
        if (call.startsWith('get_')) expect(response.statusCode, where).toBe(client instanceof TestClient ? 401 : 200);
        // The answers carry sessions and users, never a mapping: nothing is shown, so nothing is counted either.
        checkMarkers(
          response.body,
          caller,
          `POST /api/public/${call}`,
          { reachable: false, items: everything, markers: [] },
          where,
        );
        expect(response.body, where).not.toContain('withheld');
      }
    }
  });

  // The size of the walk, for the record (owners × callers × routes, and the item checks made).
  afterAll(() => {
    if (cases > 0)
      console.info(`derived-documents walk: ${triples.size} owner × caller × route cases, ${cases} item checks`);
  });
});

/** describeMapping's words for the winner, as the plan's reason names it. */
function describedAs(key: ItemKey): string {
  const owner = ITEMS[key].owner;
  if (owner === 'workspace' || owner === 'disabled workspace') return `workspace mapping '${nameOf(key)}'`;
  if (owner === 'the user' || owner === 'another user') return `user mapping '${nameOf(key)}'`;
  return `group mapping '${nameOf(key)}'`;
}

describe('the routes walked are the routes that carry mappings', () => {
  it('classifies every GET route under /launch…, …/file-mappings… and /workspace-sessions…, and every API call', () => {
    const gets = t.app.routeIndex
      .filter((route) => route.method === 'GET')
      .map((route) => `${route.method} ${route.url}`);
    const candidates = gets.filter((route) => /launch|file-mappings|workspace-sessions/.test(route));
    expect(
      candidates.filter((route) => !WALKED_ROUTES.has(route) && !(route in CARRIES_NO_MAPPING)),
      'walk these routes, or say why they carry no mapping',
    ).toEqual([]);
    expect(
      [...WALKED_ROUTES, ...Object.keys(CARRIES_NO_MAPPING)].filter((route) => !gets.includes(route)),
      'listed routes that no longer exist',
    ).toEqual([]);
    const calls = API_CALLS.map((call) => call.name);
    expect(
      calls.filter((name) => !(WALKED_CALLS as readonly string[]).includes(name) && !(name in CALLS_WITHOUT_PLANS)),
      'walk these calls, or say why they carry no plan',
    ).toEqual([]);
    expect(
      [...WALKED_CALLS, ...Object.keys(CALLS_WITHOUT_PLANS)].filter((name) => !calls.includes(name)),
      'listed calls that no longer exist',
    ).toEqual([]);
  });
});

describe('the edges of the rule', () => {
  /** A user holding `permissions` (through a group of their own), logged in. */
  async function loggedInWith(name: string, permissions: string[]) {
    const db = t.handle.db;
    const group = await createGroup(db, { name: `Edge ${name}`, priorityFrom: 900, permissions });
    const [user] = await db
      .insert(users)
      .values({ username: `edge-${name}`, passwordHash: await hashPassword(USER_PASSWORD) })
      .returning();
    await db.insert(userGroups).values([
      { userId: user!.id, groupId: group.id },
      { userId: user!.id, groupId: await systemGroupId(db, 'all_users') },
    ]);
    return loggedInClient(t.app, user!.username);
  }

  it('a session recorded before plans named owners shows its mappings to global admins only', async () => {
    const w = await world();
    const [row] = await t.handle.db
      .select()
      .from(workspaceSessions)
      .where(eq(workspaceSessions.id, w.sessions['T on W']));
    const plan = row!.plan as LaunchPlan;
    const old: LaunchPlan = {
      ...plan,
      file_mappings: plan.file_mappings.map(({ owned_by: _owner, ...m }) => m),
      skipped_file_mappings: plan.skipped_file_mappings.map(({ owned_by: _owner, shadowed_by: _winner, ...m }) => m),
    };
    const [session] = await t.handle.db
      .insert(workspaceSessions)
      .values({ userId: row!.userId, workspaceId: row!.workspaceId, workspaceName: row!.workspaceName, plan: old })
      .returning();
    const viewer = await loggedInWith('all-views', [
      'users_view',
      'users_auth_session',
      'images_view',
      'groups_view',
      'groups_view_system',
    ]);
    const page = await viewer.get(`/workspace-sessions/${session!.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(sentence(plan.file_mappings.length, 'file mapping'));
    expect(page.body).toContain(sentence(plan.skipped_file_mappings.length, 'skipped file mapping'));
    for (const key of ITEM_KEYS) expect(page.body, key).not.toContain(nameOf(key));
    const admin = await loggedInWith('admin', ['global_admin']);
    const full = await admin.get(`/workspace-sessions/${session!.id}`);
    for (const key of PLANS['T on W'].applied) expect(full.body, key).toContain(nameOf(key));
    expect(full.body).not.toContain('withheld');
  });

  it('changing a mapping needs viewing its owner as well: images_modify without images_view is refused, named and audited', async () => {
    const db = t.handle.db;
    const [workspace] = await db
      .insert(workspaces)
      .values({ friendlyName: 'Edge W', image: 'kasmweb/edge:1' })
      .returning();
    const content = Buffer.from('edge');
    const [mapping] = await db
      .insert(fileMappings)
      .values({
        workspaceId: workspace!.id,
        name: 'Edge file',
        destinationPath: '/edge',
        content,
        size: content.length,
        sha256: sha256Hex(content),
      })
      .returning();
    const editor = await loggedInWith('images-modify', ['images_modify']);
    const url = `/admin/workspaces/${workspace!.id}/file-mappings/${mapping!.id}`;
    const refused = await editor.postMultipart(url, {
      name: 'Edge file',
      destination_path: '/edge',
      content: 'changed',
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('You may not view the file mappings of Edge W: it needs images_view.');
    expect(refused.body).not.toContain('edge</textarea>');
    expect((await db.select().from(fileMappings).where(eq(fileMappings.id, mapping!.id)))[0]!.content.toString()).toBe(
      'edge',
    );
    const [denied] = await db
      .select()
      .from(auditEvents)
      .where(eq(auditEvents.action, 'authz_fail'))
      .orderBy(desc(auditEvents.id))
      .limit(1);
    expect((denied!.details as { reason: string }).reason).toContain('it needs images_view');
    expect((await editor.get(`${url}/delete`)).statusCode).toBe(403); // the confirm page names the mapping and its path
  });
});
