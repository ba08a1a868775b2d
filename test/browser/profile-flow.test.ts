import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userGroups } from '../../src/db/schema.js';
import { JS_MODES, skipBrowserTests, openBrowserSession, type BrowserSession } from '../helpers/browser.js';
import { createGroup, seedUser } from '../helpers/factories.js';
import { TestClient } from '../helpers/client.js';

const PASSWORD = 'analytical engine';

// A user's own session, JavaScript off and on: settings override the group, the theme follows
// them to every page, and a TOTP second factor is enrolled and used.
describe.skipIf(skipBrowserTests).each(JS_MODES)('profile flow with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  /** The TOTP code at the test server's clock plus `offsetSeconds` (the clock moves only when the test says). */
  const codeAt = (secret: string, offsetSeconds = 0) =>
    generate({ secret, epoch: Math.floor(session.server.clock.now() / 1000) + offsetSeconds });
  let page: Page;
  let secret = '';
  let recovery: string[] = [];
  let password = PASSWORD;

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled, [401, 422]);
    page = session.page;
    const db = session.server.handle.db;
    const ada = await seedUser(db, 'ada', PASSWORD);
    const engineering = await createGroup(db, { name: 'Engineering', settings: { auto_login_to_kasm: true } });
    await db.insert(userGroups).values({ userId: ada.id, groupId: engineering.id });
  });

  afterAll(() => session?.close());

  async function logIn() {
    await page.goto('/login');
    await page.getByLabel('User Name').fill('ada');
    await page.getByLabel('Password', { exact: true }).fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  async function logOut() {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Roster' }).waitFor();
  }

  const mark = (value: number) =>
    page.evaluate((v) => ((window as unknown as { marker: number }).marker = v), value).catch(() => undefined);
  const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker);

  /** Saves the rows changed so far as a person would: the row's own Save with JS, the form's one Save without. */
  async function saveRow(label: string) {
    if (javaScriptEnabled) await page.getByRole('button', { name: `Save ${label}`, exact: true }).click();
    else await page.getByRole('button', { name: 'Save settings' }).click();
  }
  /** Where the message of a save appears: in the row with JS (it changed in place), at the top of the settings section without. */
  const messageOf = (key: string) =>
    (javaScriptEnabled ? page.locator(`#setting-${key}`) : page.locator('#settings')).getByRole('status');
  const row = (key: string) => page.locator(`#setting-${key}`);

  it('changes Theme, Auto Launch, Theme again, then goes back to the group default: each confirmed where it was saved', async () => {
    await logIn();
    await page.getByRole('link', { name: 'Profile' }).first().click();
    await row('auto_login_kasm').getByText('(from group Engineering)').waitFor();
    // Without JS the rows' own Save buttons are hidden: one Save settings button saves them all.
    // Polled: the stylesheet that hides them may arrive after the page's first paint.
    await expect
      .poll(() => page.getByRole('button', { name: /^Save /, exact: false }).count())
      .toBe(javaScriptEnabled ? 10 : 1);

    for (const [theme, dataTheme] of [
      ['Dark', 'dark'],
      ['Light', 'light'],
    ] as const) {
      await page.getByLabel('Theme', { exact: true }).selectOption(theme);
      await saveRow('Theme');
      await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe(dataTheme);
      await page.waitForLoadState('load');
      expect(await messageOf('theme').innerText()).toBe('Theme saved.');
      expect(await row('theme').locator('.effective').innerText()).toBe(`Now: ${theme} (your choice)`);

      await mark(1);
      await page.getByLabel('Auto Launch Session').selectOption(theme === 'Dark' ? 'Off' : 'On');
      await saveRow('Auto Launch Session');
      await row('auto_login_kasm')
        .getByText(`Now: ${theme === 'Dark' ? 'Off' : 'On'}`)
        .waitFor();
      expect(await messageOf('auto_login_kasm').innerText()).toBe('Auto Launch Session saved.');
      expect(await row('auto_login_kasm').locator('.source').innerText()).toBe('(your choice)');
      expect(await marker()).toBe(javaScriptEnabled ? 1 : undefined); // in place with JS, a new page without
    }
    await expect
      .poll(() => page.evaluate(() => getComputedStyle(document.body).backgroundColor))
      .not.toBe('rgb(22, 26, 34)');

    await row('auto_login_kasm').getByRole('button', { name: 'Use group default' }).click();
    await row('auto_login_kasm').getByText('(from group Engineering)').waitFor();
    expect(await messageOf('auto_login_kasm').innerText()).toBe('Auto Launch Session now follows your groups: On.');
    expect(await row('auto_login_kasm').getByRole('button', { name: 'Use group default' }).count()).toBe(0);
    // Settings no group sets offer no group default.
    expect(await row('preferred_timezone').getByRole('button', { name: 'Use group default' }).count()).toBe(0);
  });

  it('saves several rows at once with the one Save button, and wraps a long SSH key inside its row', async () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.alloc(530, 7)]).toString(
      'base64',
    );
    await page.getByLabel('Theme', { exact: true }).selectOption('Dark');
    await page.getByLabel('Chat Sound Effects').selectOption('Off');
    await page.getByLabel('Preferred Timezone').fill('Europe/Berlin');
    await page.getByLabel('SSH Public Key').fill(`ssh-rsa ${blob} ada@analytical-engine`);
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page
      .locator('#settings')
      .getByRole('status')
      .getByText('Chat Sound Effects, Theme, Preferred Timezone and SSH Public Key saved.')
      .waitFor();
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('dark');
    expect(await row('chat_sfx').locator('.effective').innerText()).toBe('Now: Off (your choice)');
    expect(await row('preferred_timezone').locator('.effective').innerText()).toBe('Now: Europe/Berlin (your choice)');
    await page.setViewportSize({ width: 1024, height: 800 });
    const widths = await page.evaluate(() => ({
      page: document.documentElement.scrollWidth,
      viewport: document.documentElement.clientWidth,
      row: document.querySelector('#setting-ssh_public_key')!.scrollWidth,
      rowBox: document.querySelector('#setting-ssh_public_key')!.clientWidth,
    }));
    expect(widths.page).toBeLessThanOrEqual(widths.viewport);
    expect(widths.row).toBeLessThanOrEqual(widths.rowBox);
    await page.setViewportSize({ width: 1280, height: 720 });
  });

  it('ends another session after confirming, the message in the sessions section', async () => {
    const other = new TestClient(session.server.app, '198.51.100.44');
    await other.login('ada', password);
    await page.goto('/profile');
    await page.reload(); // the page may be /profile already: a fresh copy lists the new session
    const questions: string[] = [];
    page.on('dialog', (dialog) => questions.push(dialog.message()));
    await page.getByRole('button', { name: /^End session from 198\.51\.100\.44/ }).click();
    const question = /^End the session from 198\.51\.100\.44 \(.+\)\?$/;
    if (javaScriptEnabled) await expect.poll(() => questions[0]).toMatch(question);
    else {
      await page.getByRole('heading', { name: question }).waitFor();
      await page.getByRole('button', { name: 'End Session' }).click();
    }
    await page.locator('#sessions').getByRole('status').getByText('That session was logged out.').waitFor();
    expect(await page.locator('#sessions').getByText('198.51.100.44').count()).toBe(0);
    expect((await other.get('/')).headers.location).toBe('/login');
  });

  it('refuses a wrong password change with a focused summary and empty fields, then takes the right one', async () => {
    await page.goto('/profile#password');
    const next = 'difference engine two';
    await page.getByLabel('Current Password').fill('not my password');
    await page.getByLabel('New Password', { exact: true }).fill(next);
    await page.getByLabel('Confirm New Password').fill(next);
    await page.getByRole('button', { name: 'Change Password' }).click();
    const summary = page.locator('#password').getByRole('alert');
    await summary.getByRole('link', { name: 'This is not your current password.' }).waitFor();
    await expect
      .poll(() => page.evaluate(() => document.activeElement?.classList.contains('error-summary')))
      .toBe(true);
    for (const label of ['Current Password', 'New Password', 'Confirm New Password']) {
      expect(await page.getByLabel(label, { exact: true }).inputValue(), label).toBe('');
    }
    expect(await page.locator('#password').getByText('Enter the password again.', { exact: true }).count()).toBe(2);
    await page.getByLabel('Current Password').fill(password);
    await page.getByLabel('New Password', { exact: true }).fill(next);
    await page.getByLabel('Confirm New Password').fill(next);
    await page.getByRole('button', { name: 'Change Password' }).click();
    await page
      .locator('#password')
      .getByRole('status')
      .getByText('Password changed. Your other sessions were logged out.')
      .waitFor();
    password = next;
  });

  it('enrols TOTP and keeps the recovery codes', async () => {
    await page.goto('/profile');
    await page.getByRole('link', { name: 'Two-factor authentication' }).click();
    await page.getByRole('button', { name: 'Set Up Two-Factor Authentication' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    secret = (await page.locator('#totp-secret').getAttribute('data-secret'))!;
    expect((await page.locator('#totp-secret').innerText()).replace(/ /g, '')).toBe(secret);
    session.server.clock.intoTotpStep(10);
    await page.getByLabel('Authentication Code').fill(await codeAt(secret));
    await page.getByRole('button', { name: 'Verify and Turn On' }).click();
    await page.getByRole('heading', { name: 'Two-factor authentication is on' }).waitFor();
    recovery = await page.locator('#recovery-codes code').allInnerTexts();
    expect(recovery).toHaveLength(10);
  });

  it('logs back in with a code, and refuses the same code again', async () => {
    await page.getByRole('link', { name: 'Continue' }).click();
    await logOut();
    await logIn();
    await page.getByRole('heading', { name: 'Enter your authentication code' }).waitFor();
    const code = await codeAt(secret, 30); // the enrolment used the current step
    await page.getByLabel('Authentication Code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    // Engineering turns Auto Launch on: after the second factor, /go — with no workspace, it says so.
    await page.getByRole('heading', { name: 'No default workspace' }).waitFor();

    await logOut();
    await logIn();
    await page.getByLabel('Authentication Code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('Invalid or already used code.').waitFor();
  });

  it('uses a recovery code instead', async () => {
    await page.getByLabel('Authentication Code').fill(recovery[0]!);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('heading', { name: 'No default workspace' }).waitFor(); // Auto Launch, as above
    await page.goto('/profile/2fa');
    await page.getByText('You have 9 unused recovery codes.').waitFor();
  });

  it('ran without script errors or CSP violations', () => {
    expect(session.errors).toEqual([]);
  });
});
