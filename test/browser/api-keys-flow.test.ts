import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JS_MODES,
  skipBrowserTests,
  loginAsFirstAdmin,
  openBrowserSession,
  type BrowserSession,
} from '../helpers/browser.js';

// An admin makes a key for a provisioning script, in a browser with JavaScript off and on:
// add it, copy the key and secret shown once, give it permissions, see a script's call work,
// then disable it and delete it (with a confirm step).
describe.skipIf(skipBrowserTests).each(JS_MODES)('API keys with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  let page: Page;
  let key = '';
  let secret = '';

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled, [401, 409, 422]);
    page = session.page;
    await loginAsFirstAdmin(page);
  });

  afterAll(() => session?.close());

  /** A call as a script makes it, with the key and secret the page showed. */
  const getImages = () =>
    fetch(`${session.server.url}/api/public/get_images`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ api_key: key, api_key_secret: secret }),
    });

  it('adds a key and shows its secret once, with clear errors for bad values', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API Keys' }).click();
    await page.getByRole('link', { name: 'Add API Key' }).click();
    await page.getByLabel('Name').fill('Provisioning script');
    await page.getByLabel('Expires (UTC)').fill('yesterday');
    await page.getByRole('button', { name: 'Create API Key' }).click();
    await page.getByRole('alert').getByRole('link', { name: 'Expires must be a date' }).waitFor(); // the summary, linked to the field
    expect(await page.getByLabel('Name').inputValue()).toBe('Provisioning script');
    await page.getByLabel('Expires (UTC)').fill('2099-12-31');
    await page.getByRole('button', { name: 'Create API Key' }).click();
    await page.getByText('cannot be shown again').waitFor();
    key = await page.getByLabel('API Key', { exact: true }).inputValue();
    secret = await page.getByLabel('API Key Secret').inputValue();
    expect(key).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await getImages()).status).toBe(403); // a new key holds nothing
  });

  it('gives the key a permission, and a script can call with it', async () => {
    await page.getByRole('link', { name: 'Set its permissions' }).click();
    await page.getByLabel('images_view').check();
    await page.getByRole('button', { name: 'Save Permissions' }).click();
    await page.getByText('Permissions of API key Provisioning script saved.').waitFor();
    expect(await page.getByLabel('images_view').isChecked()).toBe(true);
    expect(await page.content()).not.toContain(secret);
    const response = await getImages();
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ images: [] });
  });

  it('disables the key, which the next call feels', async () => {
    await page.getByLabel('Enabled').uncheck();
    await page.getByRole('button', { name: 'Save API Key' }).click();
    await page.getByText('API key Provisioning script saved.', { exact: true }).waitFor(); // not the earlier "Permissions of …" flash
    expect((await getImages()).status).toBe(401);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API Keys' }).click();
    const row = page.getByRole('row', { name: /Provisioning script/ });
    expect(await row.getByRole('cell').nth(1).textContent()).toBe('Off');
    expect(await row.getByRole('cell').nth(5).textContent()).toBe('admin');
  });

  it('deletes the key after a confirm step', async () => {
    await page.getByRole('link', { name: 'Delete Provisioning script' }).click();
    await page.getByRole('heading', { name: 'Delete API key Provisioning script?' }).waitFor();
    await page.getByRole('button', { name: 'Delete API key' }).click();
    await page.getByText('API key Provisioning script deleted.').waitFor();
    expect(await page.getByText('No API keys yet.').isVisible()).toBe(true);
    expect(session.errors).toEqual([]);
  });

  it('reads the API reference without a login', async () => {
    await page.goto('/api/public/reference');
    await page.getByRole('heading', { name: 'Developer API reference' }).waitFor();
    await page.getByRole('navigation', { name: 'Calls' }).getByRole('link', { name: 'create_user' }).click();
    await page.getByRole('heading', { name: /create_user/ }).waitFor();
    expect(await page.getByText('Needs users_create.').isVisible()).toBe(true);
  });
});
