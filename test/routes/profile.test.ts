import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { and, eq, isNull } from 'drizzle-orm';
import type JsQR from 'jsqr';
import { generate } from 'otplib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, groups, groupSettings, recoveryCodes, sessions, userSettings } from '../../src/db/schema.js';
import { createTestApp, USER_PASSWORD, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { elements, expectElement, expectLeadingElement, innerHtml } from '../helpers/html.js';
import { createGroup, fixtures } from '../helpers/factories.js';
import { USER_SETTINGS } from '../../src/settings/user-settings.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop';

// jsqr is CommonJS whose typings claim an ES default export.
const jsQR = createRequire(import.meta.url)('jsqr') as typeof JsQR.default;

let t: TestApp;
let admin: TestClient;

beforeAll(async () => {
  t = await createTestApp();
  admin = await new TestClient(t.app).loginAsFirstAdmin();
});
afterAll(() => t.close());
const { userNamed, lastAudit, loggedInNewUser } = fixtures(
  () => t,
  () => admin,
);

/** A new user of the test's own, logged in, on their profile page. */
const loggedIn = (username: string, extra: Record<string, string> = {}) => loggedInNewUser(username, extra, '/profile');

/** The TOTP code at the app's clock plus `offsetSeconds`. */
const codeAt = (secret: string, offsetSeconds = 0) =>
  generate({ secret, epoch: Math.floor(t.clock.now() / 1000) + offsetSeconds });
const hasOathtool = Boolean(process.env.CI) || spawnSync('oathtool', ['--version']).status === 0;
/** The code oathtool (an independent TOTP implementation) computes for the given offset from now. */
const oathtoolCode = (secret: string, offsetSeconds = 0) =>
  execFileSync('oathtool', ['--totp', '-b', '-N', `@${Math.floor(t.clock.now() / 1000) + offsetSeconds}`, secret], {
    encoding: 'utf8',
  }).trim();
const secretOn = (html: string) => /data-secret="([A-Z2-7]+)"/.exec(html)![1]!;

describe('profile settings', () => {
  let groupsMade = 0;
  /** A user of the test's own, logged in, in a group of its own ("Engineering N") that turns Auto Launch on. */
  async function inAutoLaunchGroup(username: string) {
    const n = ++groupsMade;
    const group = await createGroup(t.handle.db, { name: `Engineering ${n}`, settings: { auto_login_to_kasm: true } });
    const client = await loggedIn(username);
    const user = await userNamed(username);
    await admin.get(`/admin/users/${user.id}`);
    await admin.post(`/admin/users/${user.id}/groups`, { group_id: group.id });
    return { client, user, group };
  }

  it('shows each setting with its effective value and source', async () => {
    const { client, group } = await inAutoLaunchGroup('pat');
    const page = await client.get('/profile');
    expect(page.statusCode).toBe(200);
    for (const label of [
      'Auto Launch Session',
      'Chat Sound Effects',
      'Default Workspace Image',
      'Show Tips During Session',
      'Toggle Control Panel',
      'Theme',
      'Preferred Language',
      'Preferred Timezone',
      'SSH Public Key',
    ]) {
      expect(page.body, label).toContain(`>${label}</label>`);
    }
    expect(page.body).toMatch(
      new RegExp(
        `id="setting-auto_login_kasm"[\\s\\S]*?Now: <strong>On</strong> <span class="source">\\(from group ${group.name}\\)</span>`,
      ),
    );
    expect(page.body).toMatch(
      /id="setting-chat_sfx"[\s\S]*?Now: <strong>On<\/strong> <span class="source">\(default\)<\/span>/,
    );
  });

  it('saves a value as a plain form, and "Use group default" clears it', async () => {
    const { client, user, group } = await inAutoLaunchGroup('quentin');
    await client.get('/profile');
    const saved = await client.post('/profile/settings/auto_login_kasm', { value: 'false', action: 'save' });
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe('/profile#setting-auto_login_kasm');
    let page = await client.get('/profile');
    expect(page.body).toContain('Auto Launch Session saved.');
    expect(page.body).toMatch(
      /id="setting-auto_login_kasm"[\s\S]*?Now: <strong>Off<\/strong> <span class="source">\(your choice\)<\/span>/,
    );
    expect((await lastAudit('user_settings_changed', user.id))!.details).toMatchObject({
      changes: { auto_login_kasm: { old: '(group default)', new: false } },
    });
    await client.post('/profile/settings/auto_login_kasm', { action: 'reset' });
    page = await client.get('/profile');
    expect(page.body).toContain('Auto Launch Session now follows your groups: On.');
    expect(page.body).toMatch(new RegExp(`id="setting-auto_login_kasm"[\\s\\S]*?\\(from group ${group.name}\\)`));
  });

  it('updates only the row for htmx, with errors beside the field', async () => {
    const client = await loggedIn('rosa');
    const row = await client.post(
      '/profile/settings/preferred_timezone',
      { value: 'Europe/Berlin', action: 'save' },
      { 'hx-request': 'true' },
    );
    expect(row.statusCode).toBe(200);
    expect(row.body).not.toContain('<html');
    expectLeadingElement(
      row.body,
      'div',
      { class: 'setting-row', id: 'setting-preferred_timezone' },
      { only: true, leadingSpace: true },
    );
    expect(row.body).toContain('Now: <strong>Europe/Berlin</strong> <span class="source">(your choice)</span>');
    const bad = await client.post(
      '/profile/settings/preferred_timezone',
      { value: 'Mars/Base', action: 'save' },
      { 'hx-request': 'true' },
    );
    expect(bad.statusCode).toBe(422);
    expect(bad.body).toContain('Preferred Timezone &quot;Mars/Base&quot; is not an IANA time zone');
    expect(bad.body).toContain('value="Mars/Base"');
    const badKey = await client.post('/profile/settings/ssh_public_key', { value: 'ssh-rsa nonsense', action: 'save' });
    expect(badKey.statusCode).toBe(422);
    expect(badKey.body).toContain('SSH Public Key');
    // Neither refused value was stored: the timezone is still the one saved before, no key at all.
    const rosa = await userNamed('rosa');
    const stored = await t.handle.db
      .select({ key: userSettings.key, value: userSettings.value })
      .from(userSettings)
      .where(eq(userSettings.userId, rosa.id));
    expect(stored).toContainEqual({ key: 'preferred_timezone', value: 'Europe/Berlin' });
    expect(stored.map((row) => row.key)).not.toContain('ssh_public_key');
  });

  it('draws every page in the effective theme', async () => {
    const client = await loggedIn('sophie');
    expectElement((await client.get('/')).body, 'html', { lang: 'en', 'data-theme': 'auto' }, { only: true });
    await client.get('/profile');
    const htmx = await client.post(
      '/profile/settings/theme',
      { value: 'Dark', action: 'save' },
      { 'hx-request': 'true' },
    );
    expect(htmx.headers['hx-refresh']).toBe('true');
    expectElement((await client.get('/')).body, 'html', { lang: 'en', 'data-theme': 'dark' }, { only: true });
    expect((await client.get('/profile')).body).toContain('data-theme="dark"');
    await client.post('/profile/settings/theme', { value: 'Light', action: 'save' });
    expect((await client.get('/')).body).toContain('data-theme="light"');
  });
});

/** The form's fields as the profile page shows them (what a browser would send back unchanged). */
function formFieldsOf(html: string): Record<string, string> {
  const form = html.slice(
    html.indexOf('<form method="post" action="/profile/settings"'),
    html.indexOf('</form>', html.indexOf('id="settings-form"')),
  );
  const fields: Record<string, string> = {};
  const field = { id: /s-[a-z_]+/, name: /[a-z_]+/ };
  for (const select of elements(form, 'select', field)) {
    const selected = elements(innerHtml(form, select), 'option', { value: true, selected: true }, { only: true });
    fields[select.attributes.name!] = selected[0]?.attributes.value ?? '';
  }
  for (const textarea of elements(form, 'textarea', field))
    fields[textarea.attributes.name!] = innerHtml(form, textarea);
  for (const input of elements(form, 'input', { ...field, type: 'text', value: true }))
    fields[input.attributes.name!] = input.attributes.value!;
  return fields;
}

/** The HTML of the element with this id: a section up to the next one, a setting row up to the next row (or the form's end). */
function sectionOf(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  expect(start, `#${id} on the page`).toBeGreaterThan(-1);
  const row = id.startsWith('setting-');
  const ends = row
    ? [
        html.indexOf('class="setting-row', start + 1),
        html.indexOf('<div class="buttons"><button type="submit" class="primary">', start),
      ]
    : [html.indexOf('<section', start + 1)];
  return html.slice(start, Math.min(...ends.filter((i) => i !== -1), html.length));
}

/** The page's top message area (before the first heading): where a section's message must not land. */
const topOf = (html: string) => html.slice(html.indexOf('<main'), html.indexOf('<h1'));

describe('profile settings form (one Save for every row)', () => {
  it('names every field by its key and offers a single Save settings button', async () => {
    const client = await loggedIn('one-form');
    const page = (await client.get('/profile')).body;
    const fields = formFieldsOf(page);
    expect(Object.keys(fields).sort()).toEqual(USER_SETTINGS.map((s) => s.key).sort());
    const form = sectionOf(page, 'settings');
    expect(
      elements(form, 'button', { type: 'submit', class: 'primary' }, { only: true, text: 'Save settings' }),
    ).toHaveLength(1);
    // The rows' own Save buttons exist for htmx only: without scripting, the stylesheet hides them.
    expect(elements(form, '*', { class: 'js-only', 'hx-post': /\/profile\/settings\/[a-z_]+/ })).toHaveLength(
      USER_SETTINGS.length,
    );
    const css = (await client.get('/static/css/app.css')).body.replace(/\s+/g, ' ');
    expect(css).toContain('html:not(.js) .js-only { display: none; }');
  });

  it('saves every changed row in one request and one audit event; untouched rows stay group defaults', async () => {
    const client = await loggedIn('all-at-once');
    const user = await userNamed('all-at-once');
    const fields = formFieldsOf((await client.get('/profile')).body);
    const saved = await client.post('/profile/settings', {
      ...fields,
      theme: 'Dark',
      chat_sfx: 'false',
      preferred_timezone: 'Europe/Berlin',
    });
    expect(saved.statusCode).toBe(303);
    expect(saved.headers.location).toBe('/profile#settings');
    const stored = await t.handle.db
      .select({ key: userSettings.key, value: userSettings.value })
      .from(userSettings)
      .where(eq(userSettings.userId, user.id));
    expect(Object.fromEntries(stored.map((r) => [r.key, r.value]))).toEqual({
      theme: 'Dark',
      chat_sfx: false,
      preferred_timezone: 'Europe/Berlin',
    });
    const events = await t.handle.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.action, 'user_settings_changed'), eq(auditEvents.targetId, user.id)));
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toMatchObject({
      changes: { theme: { new: 'Dark' }, chat_sfx: { new: false }, preferred_timezone: { new: 'Europe/Berlin' } },
    });
    const page = (await client.get('/profile')).body;
    expect(sectionOf(page, 'settings')).toContain(
      'role="status">Chat Sound Effects, Theme and Preferred Timezone saved.</p>',
    );
    expect(topOf(page)).not.toContain('saved.');
    expect(page).toContain('data-theme="dark"');
    // The same form sent back unchanged changes nothing and records nothing.
    await client.post('/profile/settings', formFieldsOf(page));
    expect(
      await t.handle.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.action, 'user_settings_changed'), eq(auditEvents.targetId, user.id))),
    ).toHaveLength(1);
    expect(sectionOf((await client.get('/profile')).body, 'settings')).toContain(
      'role="status">No changes to save.</p>',
    );
  });

  it('refuses the whole form when any field is wrong: each error beside its field, a summary first, every typed value kept', async () => {
    const client = await loggedIn('half-wrong');
    const user = await userNamed('half-wrong');
    const fields = formFieldsOf((await client.get('/profile')).body);
    const bad = await client.post('/profile/settings', {
      ...fields,
      theme: 'Dark',
      preferred_timezone: 'Mars/Base',
      preferred_language: 'not a tag!',
      ssh_public_key: 'ssh-rsa nonsense',
    });
    expect(bad.statusCode).toBe(422);
    const section = sectionOf(bad.body, 'settings');
    expect(section).toMatch(/^id="settings"/);
    const summary = expectElement(section, 'div', {
      class: 'flash flash-error error-summary',
      role: 'alert',
      tabindex: '-1',
      autofocus: true,
    });
    expect(summary.start).toBeLessThan(
      expectElement(section, 'form', { method: 'post', action: '/profile/settings' }).start,
    );
    for (const key of ['preferred_timezone', 'preferred_language', 'ssh_public_key']) {
      expect(section).toContain(`<li><a href="#s-${key}">`);
      const row = sectionOf(section, `setting-${key}`);
      const described = expectElement(row, '*', { 'aria-describedby': `e-${key}` });
      expect(described.start).toBeLessThan(
        expectElement(row, 'p', { class: 'error', id: `e-${key}` }, { only: true }).start,
      );
    }
    expect(formFieldsOf(bad.body)).toMatchObject({
      theme: 'Dark',
      preferred_timezone: 'Mars/Base',
      preferred_language: 'not a tag!',
      ssh_public_key: 'ssh-rsa nonsense',
    });
    expect(await t.handle.db.select().from(userSettings).where(eq(userSettings.userId, user.id))).toEqual([]); // not even the good Theme
  });

  it('offers "Use group default" only where a group can set the value, "Clear" elsewhere, as buttons of the same form', async () => {
    const client = await loggedIn('resetter');
    const own = {
      auto_login_kasm: 'false',
      chat_sfx: 'false',
      show_tips: 'false',
      toggle_control_panel: 'false',
      theme: 'Light',
      preferred_language: 'de',
      preferred_timezone: 'Europe/Berlin',
      ssh_public_key: ED25519,
    };
    await client.get('/profile');
    // Each row's own Save keeps its value as the user's, even one equal to the default.
    for (const [key, value] of Object.entries(own))
      expect((await client.post(`/profile/settings/${key}`, { value, action: 'save' })).statusCode, key).toBe(303);
    const page = (await client.get('/profile')).body;
    for (const setting of USER_SETTINGS.filter((s) => s.key in own)) {
      const row = sectionOf(page, `setting-${setting.key}`);
      const label = setting.groupKey ? 'Use group default' : 'Clear';
      const reset = expectElement(
        row,
        'button',
        {
          type: 'submit',
          name: 'reset',
          value: setting.key,
          class: 'link',
          'hx-post': `/profile/settings/${setting.key}`,
          'hx-target': `#setting-${setting.key}`,
          'hx-swap': 'outerHTML',
        },
        { only: true },
      );
      expect(innerHtml(row, reset), setting.key).toBe(`${label}<span class="visually-hidden"> ${setting.label}</span>`);
      expect(row, setting.key).not.toContain(setting.groupKey ? '>Clear<' : 'Use group default');
    }
    // Pressed without JS, it sends the whole form: that row goes back, the rest is kept.
    const reset = await client.post('/profile/settings', { ...formFieldsOf(page), reset: 'ssh_public_key' });
    expect(reset.statusCode).toBe(303);
    const after = (await client.get('/profile')).body;
    expect(sectionOf(after, 'settings')).toContain('role="status">SSH Public Key cleared.</p>');
    expect(sectionOf(after, 'setting-ssh_public_key')).toContain(
      'Now: <strong>None</strong> <span class="source">(default)</span>',
    );
    expect(sectionOf(after, 'setting-preferred_timezone')).toContain('(your choice)');
    await client.post('/profile/settings', { ...formFieldsOf(after), reset: 'theme' });
    expect(sectionOf((await client.get('/profile')).body, 'settings')).toContain(
      'role="status">Theme now follows your groups: Auto.</p>',
    );
  });

  it('saves one row in place for htmx, again and again, its message inside the row', async () => {
    const client = await loggedIn('row-by-row');
    for (const [value, shown] of [
      ['false', 'Off'],
      ['true', 'On'],
      ['false', 'Off'],
    ] as const) {
      const fields = formFieldsOf((await client.get('/profile')).body);
      const row = await client.post(
        '/profile/settings/chat_sfx',
        { ...fields, chat_sfx: value, preferred_timezone: 'Mars/Base' },
        { 'hx-request': 'true' },
      );
      expect(row.statusCode).toBe(200); // only its own field counts: another row's typing is not read
      expectLeadingElement(
        row.body,
        'div',
        { class: 'setting-row', id: 'setting-chat_sfx' },
        { only: true, leadingSpace: true },
      );
      expect(row.body).toContain(`Now: <strong>${shown}</strong> <span class="source">(your choice)</span>`);
      expectElement(
        row.body,
        'span',
        { class: 'saved', role: 'status' },
        { only: true, text: 'Chat Sound Effects saved.' },
      );
    }
    const reset = await client.post('/profile/settings/chat_sfx', { reset: 'chat_sfx' }, { 'hx-request': 'true' });
    expectElement(
      reset.body,
      'span',
      { class: 'saved', role: 'status' },
      { only: true, text: 'Chat Sound Effects now follows your groups: On.' },
    );
    const bad = await client.post(
      '/profile/settings/preferred_timezone',
      { preferred_timezone: 'Mars/Base' },
      { 'hx-request': 'true' },
    );
    expect(bad.statusCode).toBe(422);
    expectElement(
      bad.body,
      'p',
      { class: 'error', id: 'e-preferred_timezone', tabindex: '-1', autofocus: true },
      { only: true },
    );
    // The theme redraws the page: its message waits for the reloaded page, in the theme row.
    const theme = await client.post('/profile/settings/theme', { theme: 'Dark' }, { 'hx-request': 'true' });
    expect(theme.headers['hx-refresh']).toBe('true');
    const page = (await client.get('/profile')).body;
    expectElement(
      sectionOf(page, 'setting-theme'),
      'span',
      { class: 'saved', role: 'status' },
      { only: true, text: 'Theme saved.' },
    );
    expect(topOf(page)).not.toContain('Theme saved.');
  });
});

describe('messages after a save land in the section that changed', () => {
  // Each save that returns to a part of the profile: where its message must appear.
  const SAVES: Record<
    string,
    {
      section: string;
      message: string;
      act: (client: TestClient, username: string) => Promise<{ statusCode: number; headers: Record<string, unknown> }>;
    }
  > = {
    'the settings form': {
      section: 'settings',
      message: 'Theme saved.',
      act: async (c) =>
        c.post('/profile/settings', { ...formFieldsOf((await c.get('/profile')).body), theme: 'Light' }),
    },
    'one row without JS': {
      section: 'setting-show_tips',
      message: 'Show Tips During Session saved.',
      act: (c) => c.post('/profile/settings/show_tips', { value: 'false', action: 'save' }),
    },
    'the password change': {
      section: 'password',
      message: 'Password changed.',
      act: (c) =>
        c.post('/profile/password', {
          current_password: USER_PASSWORD,
          password: 'a brand new passphrase',
          password_confirm: 'a brand new passphrase',
        }),
    },
    'ending a session': {
      section: 'sessions',
      message: 'That session was logged out.',
      act: async (c, username) => {
        await new TestClient(t.app, '198.51.100.9').login(username, USER_PASSWORD);
        const page = (await c.get('/profile')).body;
        return c.post(/action="(\/profile\/sessions\/[0-9a-f]+\/end)"/.exec(page)![1]!);
      },
    },
    'logging out the other sessions': {
      section: 'sessions',
      message: 'other session was logged out.',
      act: async (c, username) => {
        await new TestClient(t.app).login(username, USER_PASSWORD);
        await c.get('/profile');
        return c.post('/profile/sessions/end-others');
      },
    },
  };

  for (const [name, save] of Object.entries(SAVES)) {
    it(`after ${name}: in #${save.section}, with role="status", not at the top`, async () => {
      const username = `msg-${Object.keys(SAVES).indexOf(name)}`;
      const client = await loggedIn(username);
      const answer = await save.act(client, username);
      expect(answer.statusCode).toBe(303);
      expect(answer.headers.location).toBe(`/profile#${save.section}`);
      const page = (await client.get('/profile')).body;
      expect(sectionOf(page, save.section)).toMatch(
        new RegExp(`role="status">[^<]*${save.message.replace(/[.()]/g, '\\$&')}`),
      );
      expect(topOf(page)).not.toContain(save.message);
    });
  }

  it('after removing the second factor: on the two-factor page, inside its content', async () => {
    const client = await loggedIn('msg-2fa');
    await client.post('/profile/2fa/enroll/start');
    const secret = secretOn((await client.get('/profile/2fa/enroll')).body);
    t.clock.intoTotpStep(10);
    await client.post('/profile/2fa/enroll', { code: await codeAt(secret) });
    await client.get('/profile/2fa');
    expect(
      (await client.post('/profile/2fa/remove', { password: USER_PASSWORD, code: await codeAt(secret, 30) })).headers
        .location,
    ).toBe('/profile/2fa');
    const page = (await client.get('/profile/2fa')).body;
    expect(sectionOf(page, 'two-factor')).toContain('role="status">Two-factor authentication removed.</p>');
    expect(topOf(page)).not.toContain('removed');
  });
});

describe('confirming session-ending actions', () => {
  it('asks before ending a session or logging out the others: a confirm page without JS, the same question for htmx', async () => {
    const client = await loggedIn('confirmer');
    const other = new TestClient(t.app, '198.51.100.20');
    await other.login('confirmer', USER_PASSWORD);
    const page = (await client.get('/profile')).body;
    const sessionsPart = sectionOf(page, 'sessions');
    const endButton = expectElement(sessionsPart, 'button', {
      type: 'submit',
      class: 'link',
      'aria-label': /End session from 198\.51\.100\.20 [^"]*/,
      'hx-post': /\/profile\/sessions\/[0-9a-f]{24}\/end/,
      'hx-confirm': /[^"]+/,
    });
    const handle = /[0-9a-f]{24}/.exec(endButton.attributes['hx-post']!)![0];
    const question = endButton.attributes['hx-confirm']!;
    const endForm = expectElement(
      sessionsPart,
      'form',
      { method: 'get', action: `/profile/sessions/${handle}/end`, class: 'inline' },
      { only: true },
    );
    expect(sessionsPart.slice(endForm.end, endButton.start).trim(), 'the button first in its form').toBe('');
    expect(question).toMatch(/^End the session from 198\.51\.100\.20 \(.*\)\?$/);
    expectElement(sessionsPart, 'form', { method: 'get', action: '/profile/sessions/end-others' }, { only: true });
    expectElement(sessionsPart, '*', {
      'hx-post': '/profile/sessions/end-others',
      'hx-confirm': 'Log out your other session?',
    });

    // Without JS the buttons only open the confirm step: nothing ends on a GET.
    const confirmEnd = await client.get(`/profile/sessions/${handle}/end`);
    expect(confirmEnd.statusCode).toBe(200);
    expect(confirmEnd.body).toContain(`<h1>${question}</h1>`);
    expectElement(
      confirmEnd.body,
      'form',
      { method: 'post', action: `/profile/sessions/${handle}/end`, class: 'buttons' },
      { only: true },
    );
    const confirmOthers = await client.get('/profile/sessions/end-others');
    expect(confirmOthers.body).toContain('<h1>Log out your other session?</h1>');
    expect((await other.get('/')).statusCode).toBe(200);

    // With htmx the section comes back, redrawn, with its message.
    const ended = await client.post(`/profile/sessions/${handle}/end`, {}, { 'hx-request': 'true' });
    expect(ended.statusCode).toBe(200);
    expect(ended.body).toMatch(/^\s*<section id="sessions"/);
    expect(ended.body).toContain('role="status">That session was logged out.</p>');
    expect(ended.body).not.toContain('198.51.100.20');
    expect((await other.get('/')).headers.location).toBe('/login');
    // Gone already: the confirm step says so where the eye is.
    expect((await client.get(`/profile/sessions/${handle}/end`)).headers.location).toBe('/profile#sessions');
    expect(sectionOf((await client.get('/profile')).body, 'sessions')).toContain('That session had already ended.');
  });
});

describe('password', () => {
  it('changes the password with the current one, and ends the other sessions', async () => {
    await loggedIn('pw-user');
    const other = new TestClient(t.app);
    await other.login('pw-user', USER_PASSWORD);
    const client = new TestClient(t.app);
    await client.login('pw-user', USER_PASSWORD);
    await client.get('/profile');
    const wrong = await client.post('/profile/password', {
      current_password: 'not it at all',
      password: 'a brand new passphrase',
      password_confirm: 'a brand new passphrase',
    });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('This is not your current password.');
    const weak = await client.post('/profile/password', {
      current_password: USER_PASSWORD,
      password: 'short',
      password_confirm: 'short',
    });
    expect(weak.body).toContain('at least 12 characters');
    const ok = await client.post('/profile/password', {
      current_password: USER_PASSWORD,
      password: 'a brand new passphrase',
      password_confirm: 'a brand new passphrase',
    });
    expect(ok.statusCode).toBe(303);
    expect((await client.get('/profile')).body).toContain('Password changed. Your other sessions were logged out.');
    expect((await other.get('/')).headers.location).toBe('/login');
    expect((await new TestClient(t.app).login('pw-user', 'a brand new passphrase')).statusCode).toBe(303);
    expect((await lastAudit('authn_password_change'))!.targetName).toBe('pw-user');
  });

  // Both pages that take a new password, each refused submit: what comes back.
  const PASSWORD_PAGES = {
    'the profile': {
      url: '/profile/password',
      open: async (name: string) => loggedIn(name),
      form: (password: string, confirm: string, current = USER_PASSWORD) => ({
        current_password: current,
        password,
        password_confirm: confirm,
      }),
    },
    'the forced reset': {
      url: '/password-reset',
      open: async (name: string) => {
        await admin.addUser(name, { force_password_reset: 'true' });
        const client = new TestClient(t.app);
        expect((await client.login(name, USER_PASSWORD)).headers.location).toBe('/password-reset');
        await client.get('/password-reset');
        return client;
      },
      form: (password: string, confirm: string) => ({ password, password_confirm: confirm }),
    },
  };
  for (const [pageName, page] of Object.entries(PASSWORD_PAGES)) {
    it(`on ${pageName}: says every problem at once, focuses a summary first, and never sends a password back`, async () => {
      const client = await page.open(`pw-${pageName.length}`);
      const cases = [
        {
          password: 'short',
          confirm: 'shorter',
          errors: ['at least 12 characters', 'The two passwords do not match.'],
        },
        {
          password: 'a brand new passphrase',
          confirm: 'a brand new passphraze',
          errors: ['The two passwords do not match.'],
        },
        { password: 'tiny', confirm: 'tiny', errors: ['at least 12 characters'] },
      ];
      if (pageName === 'the profile')
        cases.push({
          password: 'a brand new passphrase',
          confirm: 'a brand new passphrase',
          current: 'not my password at all',
          errors: ['This is not your current password.'],
        } as (typeof cases)[number]);
      for (const one of cases) {
        const current = (one as { current?: string }).current;
        const answer = await client.post(page.url, page.form(one.password, one.confirm, current));
        expect(answer.statusCode).toBe(422);
        for (const error of one.errors) expect(answer.body, one.password).toContain(error);
        const form = answer.body.slice(answer.body.indexOf(`action="${page.url}"`));
        expectLeadingElement(
          form.slice(form.indexOf('>') + 1),
          'div',
          { class: 'flash flash-error error-summary', role: 'alert', tabindex: '-1', autofocus: true },
          { leadingSpace: true },
        );
        expect(form.match(/<li><a href="#f-[a-z_]+">/g)).toHaveLength(one.errors.length);
        for (const typed of [one.password, one.confirm, current ?? USER_PASSWORD])
          expect(answer.body).not.toContain(`value="${typed}"`);
        expect(
          elements(form, 'input', { type: 'password', value: true }).map((input) => input.attributes.value),
        ).toEqual(pageName === 'the profile' ? ['', '', ''] : ['', '']);
        expect(form.match(/<small class="hint">Enter the password again\./g)).toHaveLength(
          pageName === 'the profile' ? 3 : 2,
        );
      }
    });
  }

  it('tells users of other realms that their identity provider manages it', async () => {
    await admin.addUser('ldap-person', { realm: 'ldap', password: '' });
    const ldap = await userNamed('ldap-person');
    // An LDAP user cannot log in here yet; render their profile through a session made for them.
    await admin.addUser('stand-in');
    const client = new TestClient(t.app);
    await client.login('stand-in', USER_PASSWORD);
    const standIn = await userNamed('stand-in');
    const [row] = await t.handle.db.select().from(sessions).where(eq(sessions.userId, standIn.id));
    await t.handle.db
      .update(sessions)
      .set({ userId: ldap.id, data: { ...(row!.data as object), userId: ldap.id } })
      .where(eq(sessions.sid, row!.sid));
    const page = await client.get('/profile');
    expect(page.body).toContain('Your password is managed by your identity provider (ldap)');
    expect(page.body).not.toContain('Current Password');
  });
});

describe('sessions', () => {
  it("lists the user's sessions and logs out one or all others", async () => {
    await loggedIn('multi');
    const phone = new TestClient(t.app, '198.51.100.7');
    await phone.login('multi', USER_PASSWORD);
    const tablet = new TestClient(t.app, '198.51.100.8');
    await tablet.login('multi', USER_PASSWORD);
    const desk = new TestClient(t.app);
    await desk.login('multi', USER_PASSWORD);
    const page = await desk.get('/profile');
    expect(page.body).toContain('198.51.100.7');
    expect(page.body).toContain('This session');
    const sids = (await t.handle.db.select().from(sessions)).map((s) => s.sid);
    for (const sid of sids) expect(page.body).not.toContain(sid); // ids never leave the server
    const before = page.body.slice(0, page.body.indexOf('aria-label="End session from 198.51.100.7'));
    const action = [...before.matchAll(/action="(\/profile\/sessions\/[0-9a-f]+\/end)"/g)].at(-1)![1]!;
    expect((await desk.post(action)).statusCode).toBe(303);
    expect((await phone.get('/')).headers.location).toBe('/login');
    expect((await tablet.get('/')).statusCode).toBe(200);
    await desk.get('/profile');
    expect((await desk.post('/profile/sessions/end-others')).statusCode).toBe(303);
    expect((await tablet.get('/')).headers.location).toBe('/login');
    expect((await desk.get('/profile')).body).toContain('2 other sessions were logged out.'); // the tablet and the first login
    expect((await lastAudit('session_revoked'))!.targetName).toBe('multi');
  });

  it("cannot end somebody else's session", async () => {
    const victim = await loggedIn('victim');
    const victimSession = (
      await t.handle.db
        .select()
        .from(sessions)
        .where(eq(sessions.userId, (await userNamed('victim')).id))
    )[0]!;
    const { sessionHandle } = await import('../../src/sessions/sessions-queries.js');
    const attacker = await loggedIn('attacker');
    const attackerUser = await userNamed('attacker');
    const victimUser = await userNamed('victim');
    const url = `/profile/sessions/${sessionHandle(victimSession.sid)}/end`;
    // Answered as a session that had already ended (a handle does not tell whether it is live).
    const answer = await attacker.post(url);
    expect(answer.statusCode).toBe(303);
    expect(answer.headers.location).toBe('/profile#sessions');
    expect((await attacker.get('/profile')).body).toContain('That session had already ended.');
    const fragment = await attacker.post(url, {}, { 'hx-request': 'true' });
    expect(fragment.statusCode).toBe(404);
    expect(fragment.body).toContain('That session had already ended.');
    expect((await victim.get('/profile')).statusCode).toBe(200);
    // The refusal is audited, once, counted when repeated; ending nothing is not.
    const refusal = await lastAudit('authz_fail', victimUser.id);
    expect(refusal).toMatchObject({
      actorType: 'user',
      actorId: attackerUser.id,
      actorName: 'attacker',
      outcome: 'failure',
      targetType: 'user',
      targetName: 'victim',
    });
    expect(refusal!.details).toMatchObject({
      reason: "Ending another user's session needs users_auth_session.",
      lacking: ['users_auth_session'],
      repeated: 2,
    });
    expect(await lastAudit('session_revoked', victimUser.id)).toBeUndefined();
    const gone = await attacker.post('/profile/sessions/0123456789abcdef01234567/end');
    expect(gone.statusCode).toBe(303);
    expect((await lastAudit('authz_fail', attackerUser.id)) ?? null).toBeNull();
  });

  it('lets an admin with users_auth_session log a user out everywhere', async () => {
    const client = await loggedIn('to-kick');
    const user = await userNamed('to-kick');
    const page = await admin.get(`/admin/users/${user.id}`);
    expect(page.body).toContain('Log Out Everywhere');
    expect((await admin.post(`/admin/users/${user.id}/logout`, { confirm: 'yes' })).statusCode).toBe(303);
    expect((await client.get('/profile')).headers.location).toMatch(/^\/login/);
    expect((await admin.get(`/admin/users/${user.id}`)).body).toContain(
      'to-kick was logged out everywhere (1 session).',
    );
  });
});

describe('two-factor authentication', () => {
  /** A user who enrolled (on the app's clock, 10 s into a time step): their secret, the code used, recovery codes. */
  async function enrolled(username: string) {
    const client = await loggedIn(username);
    await client.post('/profile/2fa/enroll/start');
    const secret = secretOn((await client.get('/profile/2fa/enroll')).body);
    t.clock.intoTotpStep(10);
    const enrolmentCode = await codeAt(secret);
    const done = await client.post('/profile/2fa/enroll', { code: enrolmentCode });
    expect(done.statusCode).toBe(200);
    const recovery = [...done.body.matchAll(/<li><code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})<\/code><\/li>/g)].map(
      (m) => m[1]!,
    );
    return { client, secret, enrolmentCode, recovery };
  }

  /** Logs in with the password; the session then waits for the second factor. */
  async function atSecondStep(username: string) {
    const client = new TestClient(t.app);
    expect((await client.login(username, USER_PASSWORD)).headers.location).toBe('/login/code');
    await client.get('/login/code');
    return client;
  }

  it('enrols with a server-drawn QR code, a typed secret and a confirming code', async () => {
    const client = await loggedIn('tina');
    const status = await client.get('/profile/2fa');
    expect(status.body).toContain('Set Up Two-Factor Authentication');
    expect((await client.post('/profile/2fa/enroll/start')).headers.location).toBe('/profile/2fa/enroll');
    const page = await client.get('/profile/2fa/enroll');
    const secret = secretOn(page.body);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/); // 160 bits
    const stored = await userNamed('tina');
    expect(stored.twoFactorSecret).not.toContain(secret); // encrypted at rest

    const qr = await client.get('/profile/2fa/qr.png');
    expect(qr.headers['content-type']).toBe('image/png');
    const png = PNG.sync.read(qr.rawPayload);
    const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    const uri = new URL(decoded!.data);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('issuer')).toBe('Roster');

    t.clock.intoTotpStep(10);
    const wrong = await client.post('/profile/2fa/enroll', { code: await codeAt(secret, -90) }); // three steps ago
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('That code is not right.');
    const done = await client.post('/profile/2fa/enroll', { code: await codeAt(secret) });
    expect(done.statusCode).toBe(200);
    const recovery = [...done.body.matchAll(/<li><code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})<\/code><\/li>/g)].map(
      (m) => m[1]!,
    );
    expect(recovery).toHaveLength(10);
    const hashes = await t.handle.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, stored.id));
    expect(hashes).toHaveLength(10);
    expect(JSON.stringify(hashes)).not.toContain(recovery[0]);
    expect((await userNamed('tina')).twoFactorEnabled).toBe(true);
  });

  // oathtool (Debian package oathtool) is installed by CI; elsewhere its absence skips these checks.
  it.skipIf(!hasOathtool)('computes the same codes as oathtool, an independent implementation', async () => {
    const secret = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
    for (const epoch of [59, 1_111_111_109, 1_700_000_010, 2_000_000_000]) {
      const theirs = execFileSync('oathtool', ['--totp', '-b', '-N', `@${epoch}`, secret], { encoding: 'utf8' }).trim();
      expect(await generate({ secret, epoch })).toBe(theirs);
    }
  });

  it('asks for the code at login, accepts one step of drift, refuses the enrolment code and any replay', async () => {
    const { secret, enrolmentCode } = await enrolled('ursula');
    const client = await atSecondStep('ursula');
    expect((await client.get('/')).headers.location).toBe('/login'); // not logged in yet
    const replayed = await client.post('/login/code', { code: enrolmentCode }); // same step: already used
    expect(replayed.statusCode).toBe(401);
    expect(replayed.body).toContain('Invalid or already used code.');
    expect((await lastAudit('authn_2fa_replay'))!.targetName).toBe('ursula');
    const tooFar = await client.post('/login/code', { code: await codeAt(secret, 60) }); // two steps ahead
    expect(tooFar.statusCode).toBe(401);
    // oathtool's code for the next step (inside the ±1 window), or ours where oathtool is absent
    const next = hasOathtool ? oathtoolCode(secret, 30) : await codeAt(secret, 30);
    const ok = await client.post('/login/code', { code: next });
    expect(ok.statusCode).toBe(303);
    expect((await client.get('/profile')).statusCode).toBe(200);

    const again = await atSecondStep('ursula');
    expect((await again.post('/login/code', { code: next })).statusCode).toBe(401);
    // The code must not appear as a value of its own; six digits can occur by chance inside a
    // UUID or a timestamp, so only a token not touching other letters or digits counts.
    const events = JSON.stringify(await t.handle.db.select().from(auditEvents));
    expect(events).not.toMatch(new RegExp(`(?<![0-9a-zA-Z])${next}(?![0-9a-zA-Z])`));
    expect(events).not.toContain(secret);
  });

  it('accepts each recovery code once', async () => {
    const { recovery } = await enrolled('victor');
    const client = await atSecondStep('victor');
    expect((await client.post('/login/code', { code: recovery[0]!.toUpperCase() })).statusCode).toBe(303);
    expect((await lastAudit('authn_recovery_code_used'))!.targetName).toBe('victor');
    const again = await atSecondStep('victor');
    expect((await again.post('/login/code', { code: recovery[0]! })).statusCode).toBe(401);
    const victor = await userNamed('victor');
    expect(
      await t.handle.db
        .select()
        .from(recoveryCodes)
        .where(and(eq(recoveryCodes.userId, victor.id), isNull(recoveryCodes.usedAt))),
    ).toHaveLength(9);
  });

  it('counts wrong codes toward the account lockout', async () => {
    const { recovery } = await enrolled('wanda');
    const client = await atSecondStep('wanda');
    for (let i = 0; i < 5; i++) await client.post('/login/code', { code: '000000' });
    expect((await userNamed('wanda')).lockedUntil!.getTime()).toBe(t.clock.now() + 60_000);
    await client.get('/login/code');
    expect((await client.post('/login/code', { code: recovery[1]! })).statusCode).toBe(401); // locked out
  });

  it('lets the user remove their factor with password and a code', async () => {
    const { recovery } = await enrolled('xena');
    const client = await atSecondStep('xena');
    await client.post('/login/code', { code: recovery[2]! });
    await client.get('/profile/2fa');
    const wrong = await client.post('/profile/2fa/remove', { password: 'nope nope nope', code: recovery[3]! });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.body).toContain('This is not your current password.');
    const ok = await client.post('/profile/2fa/remove', { password: USER_PASSWORD, code: recovery[3]! });
    expect(ok.statusCode).toBe(303);
    expect(await userNamed('xena')).toMatchObject({ twoFactorEnabled: false, twoFactorSecret: null });
    expect((await lastAudit('authn_2fa_removed'))!.targetName).toBe('xena');
    expect((await new TestClient(t.app).login('xena', USER_PASSWORD)).headers.location).toBe('/');
  });

  it('forces enrolment at login when a group requires 2FA, and again after an admin reset', async () => {
    const strict = (await t.handle.db.insert(groups).values({ name: 'Strict', priority: 20 }).returning())[0]!;
    await t.handle.db.insert(groupSettings).values({ groupId: strict.id, key: 'require_2fa', value: true });
    await admin.addUser('sam');
    const sam = await userNamed('sam');
    await admin.get(`/admin/users/${sam.id}`);
    await admin.post(`/admin/users/${sam.id}/groups`, { group_id: strict.id });

    const client = new TestClient(t.app);
    expect((await client.login('sam', USER_PASSWORD)).headers.location).toBe('/profile/2fa');
    expect((await client.get('/')).headers.location).toBe('/profile/2fa');
    expect((await client.get('/profile')).headers.location).toBe('/profile/2fa');
    expect((await client.get('/profile/2fa')).body).toContain('Your group requires two-factor authentication.');
    await client.post('/profile/2fa/enroll/start');
    const samSecret = secretOn((await client.get('/profile/2fa/enroll')).body);
    t.clock.intoTotpStep(10);
    expect((await client.post('/profile/2fa/enroll', { code: await codeAt(samSecret) })).statusCode).toBe(200);
    expect((await client.get('/')).statusCode).toBe(200);
    const refused = await client.post('/profile/2fa/remove', {
      password: USER_PASSWORD,
      code: await codeAt(samSecret, 30),
    });
    expect(refused.statusCode).toBe(409);

    await admin.get(`/admin/users/${sam.id}`);
    expect((await admin.post(`/admin/users/${sam.id}/reset-2fa`, { confirm: 'yes' })).statusCode).toBe(303);
    expect(await t.handle.db.select().from(recoveryCodes).where(eq(recoveryCodes.userId, sam.id))).toHaveLength(0);
    const next = new TestClient(t.app);
    expect((await next.login('sam', USER_PASSWORD)).headers.location).toBe('/profile/2fa');
  });
});
