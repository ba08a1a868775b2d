import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JS_MODES, skipBrowserTests, loginAsFirstAdmin, openBrowserSession, type BrowserSession } from '../helpers/browser.js';
import { seedUser } from '../helpers/test-app.js';
import { users } from '../../src/db/schema.js';

// "Done when" of the groups issue, as an admin does it in a browser, with JavaScript off and on:
// build Engineering, set its settings and a permission, add a member in place, see the member's
// effective settings change, remove the member, and find it all in the audit log.
describe.skipIf(skipBrowserTests).each(JS_MODES)('admin groups flow with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  let page: Page;
  let groupUrl = '';

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled);
    for (const username of ['ada.lovelace', 'charles.babbage']) await seedUser(session.server.handle.db, username, 'engine number one');
    // 50 or more users outside the group: the picker searches (below that it is a select).
    await session.server.handle.db.insert(users).values(Array.from({ length: 60 }, (_, i) => ({ username: `filler-${i}` })));
    page = session.page;
    await loginAsFirstAdmin(page);
  });

  afterAll(() => session?.close());

  it('creates a group, with a clear error for a priority already taken', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('link', { name: 'Add Group' }).click();
    await page.getByLabel('Name').fill('Engineering');
    await page.getByLabel('Priority').fill('1000');
    await page.getByLabel('Description').fill('Builds things');
    await page.getByRole('button', { name: 'Create Group' }).click();
    await page.getByText('Priority 1000 is already used by group All Users').waitFor();
    expect(await page.getByLabel('Name').inputValue()).toBe('Engineering');
    await page.getByLabel('Priority').fill('10');
    await page.getByRole('button', { name: 'Create Group' }).click();
    await page.getByText('Group Engineering created.').waitFor();
    groupUrl = new URL(page.url()).pathname;
  });

  it('sets settings, rejecting a bad value beside the field', async () => {
    await page.getByLabel('Add Setting').selectOption({ label: 'Max Sessions Per User' });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Max Sessions Per User').fill('three');
    await page.getByRole('button', { name: 'Save Setting' }).click();
    await page.getByText('Max Sessions Per User: "three" is not a whole number.').waitFor();
    await page.getByLabel('Max Sessions Per User').fill('3');
    await page.getByRole('button', { name: 'Save Setting' }).click();
    await page.getByText('Max Sessions Per User set to 3.').waitFor();

    await page.getByLabel('Add Setting').selectOption({ label: 'Allow Sharing' });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Allow Sharing').selectOption('On');
    await page.getByRole('button', { name: 'Save Setting' }).click();
    await page.getByText('Allow Sharing set to On.').waitFor();
  });

  it('grants a permission', async () => {
    await page.getByLabel('users_view').check();
    await page.getByRole('button', { name: 'Save Permissions' }).click();
    await page.getByText('Permissions of Engineering saved.').waitFor();
    expect(await page.getByLabel('users_view').isChecked()).toBe(true);
  });

  it('adds a user with the picker', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1)).catch(() => undefined);
    if (javaScriptEnabled) {
      await page.getByLabel('Find user').pressSequentially('lovelace', { delay: 20 }); // suggestions as you type
    } else {
      await page.getByLabel('Find user').fill('lovelace');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
    }
    await page.getByRole('button', { name: 'Add ada.lovelace' }).click();
    const members = page.locator('#members');
    await members.getByRole('link', { name: 'ada.lovelace' }).waitFor();
    await members.getByText('1 member', { exact: true }).waitFor();
    expect(await page.getByLabel('Find user').inputValue()).toBe(''); // the picker is reset
    if (javaScriptEnabled) {
      // the row appeared in place: the page was not reloaded
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    } else {
      await page.getByText('ada.lovelace added to Engineering.').waitFor();
    }
  });

  it('shows the member\'s effective settings and their source', async () => {
    await page.locator('#members').getByRole('link', { name: 'ada.lovelace' }).click();
    const row = (key: string) => page.locator(`#effective-${key}`);
    await row('max_kasms_per_user').waitFor();
    expect(await row('max_kasms_per_user').innerText()).toMatch(/Max Sessions Per User\s+3\s+group Engineering/);
    expect(await row('allow_kasm_sharing').innerText()).toMatch(/Allow Sharing\s+On\s+group Engineering/);
    expect(await row('allow_kasm_audio').innerText()).toMatch(/Allow Audio\s+Off\s+default/);
  });

  it('removes the member and the effective values fall back', async () => {
    await page.goto(groupUrl);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 2)).catch(() => undefined);
    await page.getByRole('button', { name: 'Remove ada.lovelace' }).click();
    await page.locator('#members').getByRole('link', { name: 'ada.lovelace' }).waitFor({ state: 'detached' });
    await page.locator('#members').getByText('0 members', { exact: true }).waitFor();
    if (javaScriptEnabled) expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(2); // in place
    else await page.getByText('ada.lovelace removed from Engineering.').waitFor(); // a new page with its message
    await page.goto('/admin/users?q=lovelace');
    await page.getByRole('link', { name: 'ada.lovelace', exact: true }).click();
    await page.locator('#effective-max_kasms_per_user').waitFor();
    expect(await page.locator('#effective-max_kasms_per_user').innerText()).toMatch(/5\s+default/);
  });

  it('finds it all in the audit log', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audit Log' }).click();
    await page.getByLabel('Target').fill('Engineering');
    await page.getByRole('button', { name: 'Filter' }).click();
    const table = page.locator('#audit-table');
    for (const action of ['group_created', 'group_settings_changed', 'privilege_permissions_changed', 'group_member_added', 'group_member_removed']) {
      await table.getByRole('cell', { name: new RegExp(`^${action}`) }).first().waitFor();
    }
    await table.getByText('max_kasms_per_user: ∅ → 3').waitFor();
  });

  it('uses the row menu without JavaScript tricks: View and Duplicate', async () => {
    await page.goto('/admin/groups');
    await page.getByLabel('Actions for Engineering').click();
    await page.getByRole('button', { name: 'Duplicate' }).click();
    await page.getByText('Group Engineering duplicated as Copy of Engineering (priority 11).').waitFor();
    await page.getByRole('heading', { name: 'Copy of Engineering' }).waitFor();
  });

  it('asks to confirm before making a user an administrator, from the user page', async () => {
    await page.goto('/admin/users?q=babbage');
    await page.getByRole('link', { name: 'charles.babbage', exact: true }).click();
    const addToGroup = page.getByLabel('Add to group');
    expect(await addToGroup.inputValue()).toBe(''); // "Choose a group…": nothing preselected
    await addToGroup.selectOption({ label: 'Administrators (priority 1)' });
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('heading', { name: 'Make charles.babbage an administrator?' }).waitFor();
    await page.getByRole('button', { name: 'Add charles.babbage to Administrators' }).click();
    await page.getByText('charles.babbage added to Administrators.').waitFor();
    await page.getByRole('button', { name: 'Remove from Administrators' }).waitFor();
  });

  it('ran without script errors or CSP violations', () => {
    expect(session.errors).toEqual([]);
  });
});
