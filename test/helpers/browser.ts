import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN_NEW_PASSWORD, ADMIN_PASSWORD, createTestApp, type TestApp } from './test-app.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function chromiumAvailable(): boolean {
  return fs.existsSync(CHROMIUM_PATH);
}

/**
 * Browser tests need Debian's Chromium. On a machine without it they are skipped with a notice
 * (so `npm test` works anywhere); in CI (CI=true, which installs it) they always run.
 */
export const skipBrowserTests = !chromiumAvailable() && !process.env.CI;
if (skipBrowserTests)
  console.warn(`Browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium).`);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** A test app listening on a free loopback port, for a real browser to use. */
export async function startServer(env: Record<string, string> = {}): Promise<TestApp & { url: string }> {
  const t = await createTestApp(env);
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = t.app.server.address() as AddressInfo;
  return { ...t, url: `http://127.0.0.1:${port}` };
}

/**
 * A page of a new browser context, collecting script errors and CSP violations into `errors`
 * (failed loads with the statuses in `expectedStatuses` are the flow's own doing).
 */
export async function newPage(
  browser: Browser,
  baseURL: string,
  javaScriptEnabled: boolean,
  errors: string[],
  expectedStatuses = [401, 409, 422],
) {
  const context: BrowserContext = await browser.newContext({ javaScriptEnabled, baseURL });
  context.setDefaultTimeout(10_000);
  const page: Page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error.message));
  const expected = new RegExp(
    `Failed to load resource: the server responded with a status of (${expectedStatuses.join('|')})`,
  );
  page.on('console', (message) => {
    if (message.type() === 'error' && !expected.test(message.text())) errors.push(message.text());
  });
  page.on('dialog', (dialog) => void dialog.accept());
  // Server errors and broken requests (htmx ones included) are failures too, and say where.
  page.on('response', (response) => {
    if (response.status() >= 500)
      errors.push(`${response.status()} from ${response.request().method()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => {
    if (!request.failure()?.errorText.includes('ERR_ABORTED'))
      errors.push(`${request.method()} ${request.url()} failed: ${request.failure()?.errorText}`);
  });
  return page;
}

/** Logs in as the first admin from the login page, passing the forced password reset. */
export async function loginAsFirstAdmin(page: Page) {
  await page.goto('/login');
  await page.getByLabel('User Name').fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByLabel('New Password', { exact: true }).fill(ADMIN_NEW_PASSWORD);
  await page.getByLabel('Confirm New Password').fill(ADMIN_NEW_PASSWORD);
  await page.getByRole('button', { name: 'Set Password' }).click();
  await page.getByText('Your new password is set.').waitFor();
}

/** Every browser test runs once with JavaScript disabled and once enabled. */
export const JS_MODES = [
  { javaScriptEnabled: false, mode: 'JavaScript off' },
  { javaScriptEnabled: true, mode: 'JavaScript on' },
] as const;

export interface BrowserSession {
  server: TestApp & { url: string };
  page: Page;
  /** Script errors and CSP violations seen so far (should stay empty). */
  errors: string[];
  close(): Promise<void>;
}

/** A fresh test server and a Chromium page on it, with JavaScript off or on. */
export async function openBrowserSession(
  javaScriptEnabled: boolean,
  expectedStatuses?: number[],
): Promise<BrowserSession> {
  if (!chromiumAvailable())
    throw new Error(`Chromium is missing at ${CHROMIUM_PATH}: install the Debian package chromium`);
  const server = await startServer();
  const browser = await launchBrowser();
  const errors: string[] = [];
  const page = await newPage(browser, server.url, javaScriptEnabled, errors, expectedStatuses);
  return {
    server,
    page,
    errors,
    close: async () => {
      await browser.close();
      await server.close();
    },
  };
}
