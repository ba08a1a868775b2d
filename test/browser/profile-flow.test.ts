import { generate } from 'otplib';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groups, groupSettings, userGroups } from '../../src/db/schema.js';
import { JS_MODES, skipBrowserTests, openBrowserSession, type BrowserSession } from '../helpers/browser.js';
import { seedUser } from '../helpers/test-app.js';

const PASSWORD = 'analytical engine';

// A user's own session, JavaScript off and on: settings override the group, the theme follows
// them to every page, and a TOTP second factor is enrolled and used.
describe.skipIf(skipBrowserTests).each(JS_MODES)('profile flow with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  /** The TOTP code at the test server's clock plus `offsetSeconds` (the clock moves only when the test says). */
  const codeAt = (secret: string, offsetSeconds = 0) => generate({ secret, epoch: Math.floor(session.server.clock.now() / 1000) + offsetSeconds });
  let page: Page;
  let secret = '';
  let recovery: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled, [401, 422]);
    page = session.page;
    const db = session.server.handle.db;
    const ada = await seedUser(db, 'ada', PASSWORD);
    const [engineering] = await db.insert(groups).values({ name: 'Engineering', priority: 10 }).returning();
    await db.insert(groupSettings).values({ groupId: engineering!.id, key: 'auto_login_to_kasm', value: true });
    await db.insert(userGroups).values({ userId: ada.id, groupId: engineering!.id });
  });

  afterAll(() => session?.close());

  async function logIn() {
    await page.goto('/login');
    await page.getByLabel('User Name').fill('ada');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
  }

  async function logOut() {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Roster' }).waitFor();
  }

  const mark = (value: number) => page.evaluate((v) => ((window as unknown as { marker: number }).marker = v), value).catch(() => undefined);
  const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker);

  it('overrides a group setting and sees its source switch from group to user', async () => {
    await logIn();
    await page.getByRole('link', { name: 'Profile' }).first().click();
    const row = page.locator('#setting-auto_login_kasm');
    await row.getByText('(from group Engineering)').waitFor();
    await mark(1);
    await row.getByLabel('Auto Launch Session').selectOption('Off');
    await row.getByRole('button', { name: 'Save' }).click();
    await page.locator('#setting-auto_login_kasm').getByText('(your choice)').waitFor();
    expect(await page.locator('#setting-auto_login_kasm strong').innerText()).toBe('Off');
    if (javaScriptEnabled) expect(await marker()).toBe(1); // the row changed in place
    else await page.getByText('Auto Launch Session saved.').waitFor(); // a new page with its message
    await page.locator('#setting-auto_login_kasm').getByRole('button', { name: 'Use group default' }).click();
    await page.locator('#setting-auto_login_kasm').getByText('(from group Engineering)').waitFor();
  });

  it('changes the theme, applied to every page without script', async () => {
    expect(await page.locator('html').getAttribute('data-theme')).toBe('auto');
    await page.locator('#setting-theme').getByLabel('Theme').selectOption('Dark');
    await page.locator('#setting-theme').getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe('dark');
    // The new page's stylesheet may still be loading when data-theme is already there: wait for it.
    await page.waitForLoadState('load');
    await expect.poll(() => page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(22, 26, 34)');
    await page.goto('/');
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
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
