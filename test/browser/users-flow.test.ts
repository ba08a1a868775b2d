import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JS_MODES, skipBrowserTests, openBrowserSession, type BrowserSession } from '../helpers/browser.js';
import { ADMIN_NEW_PASSWORD, ADMIN_PASSWORD } from '../helpers/test-app.js';

// The admin's whole first session, as a person does it: once with JavaScript off (plain
// forms and full page loads) and once with it on (htmx swaps parts of the page).
describe.skipIf(skipBrowserTests).each(JS_MODES)('admin users flow with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled, [401, 422]);
    page = session.page;
  });

  afterAll(() => session?.close());

  it('logs in as the first admin and passes the forced password reset', async () => {
    await page.goto('/admin/users');
    await expect.poll(() => page.url()).toContain('/login');
    await page.getByLabel('User Name').fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('wrong password here');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Invalid user name or password.').waitFor();

    await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await page.getByLabel('New Password', { exact: true }).fill(ADMIN_NEW_PASSWORD);
    await page.getByLabel('Confirm New Password').fill(ADMIN_NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set Password' }).click();
    // Back where the admin was going before the login page.
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    expect(page.url()).toContain('/admin/users');
  });

  it('creates a user with all fields, with an error shown beside a field first', async () => {
    await page.getByRole('link', { name: 'Add User' }).click();
    await page.getByRole('heading', { name: 'Add User' }).waitFor();
    const fields: Record<string, string> = {
      'User Name': 'Carol.Danvers',
      'First Name': 'Carol',
      'Last Name': 'Danvers',
      Organization: 'Starforce',
      Email: 'carol-at-example.com',
      Phone: '+1 555 0100',
      City: 'Boston',
      State: 'MA',
      Country: 'US',
      'Custom Attribute 1': 'one',
      'Custom Attribute 2': 'two',
      'Custom Attribute 3': 'three',
      Notes: 'Pilot.',
    };
    for (const [label, value] of Object.entries(fields)) await page.getByLabel(label, { exact: true }).fill(value);
    await page.getByLabel('Password', { exact: true }).fill('carol flies higher');
    await page.getByLabel('Realm').selectOption('local');
    await page.getByLabel('Force Password Reset on Login').check();
    await page.getByRole('button', { name: 'Create User' }).click();

    await page.getByText('Email must look like an address').waitFor();
    expect(await page.getByLabel('City').inputValue()).toBe('Boston'); // entered values kept
    await page.getByLabel('Email').fill('carol@example.com');
    await page.getByLabel('Password', { exact: true }).fill('carol flies higher');
    await page.getByRole('button', { name: 'Create User' }).click();
    await page.getByText('User Carol.Danvers created.').waitFor();
    await page.getByRole('heading', { name: 'Carol.Danvers', exact: false }).waitFor();
    expect(await page.getByLabel('Organization').inputValue()).toBe('Starforce');
    expect(await page.getByLabel('Force Password Reset on Login').isChecked()).toBe(true);
  });

  it('finds the user by search', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByRole('link', { name: 'admin', exact: true }).waitFor();
    if (javaScriptEnabled) {
      // Search as you type swaps only the table: the page itself is not reloaded.
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
      await page.getByLabel('Search users').pressSequentially('danv');
      await page.getByRole('link', { name: 'admin', exact: true }).waitFor({ state: 'detached' });
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
      await expect.poll(() => page.url()).toContain('q=danv');
    } else {
      await page.getByLabel('Search users').fill('danv');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByText('1 user matching “danv”').waitFor();
    }
    await page.getByRole('link', { name: 'Carol.Danvers', exact: true }).waitFor();
    expect(await page.getByRole('link', { name: 'admin', exact: true }).count()).toBe(0);
  });

  it('edits and locks the user', async () => {
    await page.getByRole('link', { name: 'Carol.Danvers', exact: true }).click();
    await page.getByRole('heading', { name: 'Carol.Danvers', exact: false }).waitFor();
    await page.getByLabel('City').fill('Hala');
    await page.getByLabel('Locked').check();
    await page.getByRole('button', { name: 'Save Changes' }).click();
    await page.getByText('User Carol.Danvers saved.').waitFor();
    expect(await page.getByLabel('City').inputValue()).toBe('Hala');
    expect(await page.getByLabel('Locked').isChecked()).toBe(true);
    await page.getByRole('heading', { name: 'Carol.Danvers', exact: false }).getByText('Locked').waitFor();
  });

  it('filters the list by status, kept in the address', async () => {
    await page.goto('/admin/users');
    await page.getByLabel('Status').selectOption({ label: 'Locked' });
    if (!javaScriptEnabled) await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'admin', exact: true }).waitFor({ state: 'detached' });
    await page.getByRole('link', { name: 'Carol.Danvers', exact: true }).waitFor();
    await expect.poll(() => new URL(page.url()).searchParams.get('status')).toBe('locked');
    await page.getByLabel('Status').selectOption({ label: 'Any' });
    if (!javaScriptEnabled) await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByRole('link', { name: 'admin', exact: true }).waitFor();
  });

  it('moves between the sections of a user page by their links', async () => {
    await page.getByRole('link', { name: 'Carol.Danvers', exact: true }).click();
    const sections = page.getByRole('navigation', { name: 'User sections' });
    for (const [link, heading] of [['Groups', 'Groups'], ['Effective settings', 'Effective settings'], ['File mappings', 'File Mappings'], ['Details', 'Details']] as const) {
      await sections.getByRole('link', { name: link, exact: true }).click();
      await expect.poll(() => new URL(page.url()).hash).toBe(`#${link === 'Effective settings' ? 'effective-settings' : link === 'File mappings' ? 'file-mappings' : link.toLowerCase()}`);
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    }
  });

  it('offers View, Edit, Log Out and Delete in each row\'s menu', async () => {
    await page.goto('/admin/users');
    const menu = page.locator('summary[aria-label="Actions for Carol.Danvers"]');
    await menu.first().click();
    const row = page.locator('tr', { has: page.getByRole('link', { name: 'Carol.Danvers', exact: true }) });
    for (const name of ['View', 'Edit', 'Delete Carol.Danvers']) await row.getByRole('link', { name }).waitFor();
    await row.getByRole('button', { name: 'Log out Carol.Danvers' }).waitFor();
    if (javaScriptEnabled) {
      // With script, Escape and a click elsewhere close it; opening another closes the first.
      await page.keyboard.press('Escape');
      await row.getByRole('link', { name: 'View' }).waitFor({ state: 'hidden' });
      await menu.first().click();
      await page.getByRole('heading', { name: 'Users' }).click();
      await row.getByRole('link', { name: 'View' }).waitFor({ state: 'hidden' });
      await menu.first().click();
    }
    await row.getByRole('link', { name: 'Edit' }).click();
    await page.getByRole('heading', { name: 'Details' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#details');
  });

  it('deletes the user after confirming', async () => {
    if (javaScriptEnabled) {
      // From the table: htmx asks to confirm, then removes the row in place.
      await page.goto('/admin/users');
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
      await page.locator('summary[aria-label="Actions for Carol.Danvers"]').click();
      await page.getByRole('link', { name: 'Delete Carol.Danvers' }).click();
      await page.getByRole('link', { name: 'Carol.Danvers', exact: true }).waitFor({ state: 'detached' });
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(7);
      await page.reload();
      await page.getByRole('link', { name: 'admin', exact: true }).waitFor();
    } else {
      await page.getByRole('link', { name: 'Delete User' }).click();
      await page.getByRole('heading', { name: 'Delete user Carol.Danvers?' }).waitFor();
      await page.getByRole('button', { name: 'Delete User' }).click();
      await page.getByText('User Carol.Danvers deleted.').waitFor();
    }
    expect(await page.getByRole('link', { name: 'Carol.Danvers', exact: true }).count()).toBe(0);
  });

  it('logs out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to Roster' }).waitFor();
    await page.goto('/admin/users');
    await expect.poll(() => page.url()).toContain('/login');
  });

  it('ran without script errors or CSP violations', () => {
    expect(session.errors).toEqual([]);
  });
});
