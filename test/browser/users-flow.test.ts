import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../src/db/schema.js';
import {
  JS_MODES,
  loginAsFirstAdmin,
  skipBrowserTests,
  openBrowserSession,
  type BrowserSession,
} from '../helpers/browser.js';
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

    await page.getByRole('alert').getByRole('link', { name: 'Email must look like an address' }).waitFor(); // the summary, linked to the field
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
    for (const [link, heading] of [
      ['Groups', 'Groups'],
      ['Effective settings', 'Effective settings'],
      ['File mappings', 'File Mappings'],
      ['Details', 'Details'],
    ] as const) {
      await sections.getByRole('link', { name: link, exact: true }).click();
      await expect
        .poll(() => new URL(page.url()).hash)
        .toBe(
          `#${link === 'Effective settings' ? 'effective-settings' : link === 'File mappings' ? 'file-mappings' : link.toLowerCase()}`,
        );
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
    }
  });

  it("offers View, Log Out and Delete in each row's menu, Log Out confirmed first", async () => {
    await page.goto('/admin/users');
    const menu = page.locator('summary[aria-label="Actions for Carol.Danvers"]');
    await menu.first().click();
    const row = page.locator('tr', { has: page.getByRole('link', { name: 'Carol.Danvers', exact: true }) });
    for (const name of ['View', 'Log Out', 'Delete']) await row.getByRole('link', { name, exact: true }).waitFor();
    if (javaScriptEnabled) {
      // With script, Escape and a click elsewhere close it.
      await page.keyboard.press('Escape');
      await row.getByRole('link', { name: 'View' }).waitFor({ state: 'hidden' });
      await menu.first().click();
      await page.getByRole('heading', { name: 'Users' }).click();
      await row.getByRole('link', { name: 'View' }).waitFor({ state: 'hidden' });
      await menu.first().click();
      // Log Out asks first (the dialog is answered yes by the session) and says what it did, in the table.
      await row.getByRole('link', { name: 'Log Out', exact: true }).click();
      await page
        .locator('#users-table')
        .getByRole('status')
        .getByText('Carol.Danvers was logged out everywhere (0 sessions).')
        .waitFor();
      await menu.first().click();
    } else {
      await row.getByRole('link', { name: 'Log Out', exact: true }).click();
      await page.getByRole('heading', { name: 'Log out Carol.Danvers everywhere?' }).waitFor();
      await page.getByRole('link', { name: 'Cancel' }).click();
      await page.getByRole('heading', { name: 'Carol.Danvers', exact: false }).waitFor();
      await page.goto('/admin/users');
      await menu.first().click();
    }
    await row.getByRole('link', { name: 'View' }).click();
    await page.getByRole('heading', { name: 'Details' }).waitFor();
    expect(new URL(page.url()).pathname).toMatch(/^\/admin\/users\/[0-9a-f-]+$/);
  });

  it('deletes the user after confirming', async () => {
    if (javaScriptEnabled) {
      // From the table: htmx asks to confirm, then removes the row in place.
      await page.goto('/admin/users');
      await page.evaluate(() => ((window as unknown as { marker: number }).marker = 7));
      await page.locator('summary[aria-label="Actions for Carol.Danvers"]').click();
      await page
        .locator('tr', { has: page.getByRole('link', { name: 'Carol.Danvers', exact: true }) })
        .getByRole('link', { name: 'Delete' })
        .click();
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

// The users table as an admin works through it: sort, search, filter, page, sort again and delete
// a row — twice over, without a reload when JavaScript is on — each step showing what a fresh
// load of the address bar's URL would show (the sort arrow, the rows, the count).
describe.skipIf(skipBrowserTests).each(JS_MODES)('users table, repeated, with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  let page: Page;
  const dialogs: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled);
    page = session.page;
    page.on('dialog', (dialog) => dialogs.push(dialog.message()));
    // Emails sort the other way round from user names; every third user is locked.
    await session.server.handle.db.insert(users).values(
      Array.from({ length: 30 }, (_, i) => ({
        username: `rep-${String(i).padStart(2, '0')}`,
        email: `m${99 - i}@example.com`,
        locked: i % 3 === 0,
      })),
    );
    await loginAsFirstAdmin(page);
    await page.goto('/admin/users');
  });
  afterAll(() => session?.close());

  const table = () => page.locator('#users-table');
  const names = () => table().locator('tbody tr td:first-child a').allTextContents();
  const sorted = async () => {
    const header = table().locator('th[aria-sort]');
    return `${(await header.textContent())!.trim()} ${await header.getAttribute('aria-sort')}`;
  };
  const param = (name: string) => new URL(page.url()).searchParams.get(name);
  const submitIfNoScript = async () => {
    if (!javaScriptEnabled) await page.getByRole('button', { name: 'Search', exact: true }).click();
  };

  it('keeps the sort through search, filter and paging, and deletes in place, twice over', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 19));
    for (const round of [1, 2]) {
      await table().getByRole('link', { name: 'Email' }).click();
      await expect.poll(sorted).toBe('Email ▲ ascending');
      await expect.poll(() => param('sort')).toBe('email');

      await page.getByLabel('Search users').fill('');
      if (javaScriptEnabled) await page.getByLabel('Search users').pressSequentially('rep-');
      else await page.getByLabel('Search users').fill('rep-');
      await submitIfNoScript();
      await expect.poll(() => param('q')).toBe('rep-');
      const total = round === 1 ? 30 : 29;
      await expect.poll(() => table().locator('#users-count').textContent()).toBe(`${total} users matching “rep-”`);
      expect(await sorted()).toBe('Email ▲ ascending'); // the sort survived the search
      expect((await names())[0]).toBe('rep-29'); // m70@… sorts first
      expect(param('sort')).toBe('email');

      await page.getByLabel('Status').selectOption({ label: 'Locked' });
      await submitIfNoScript();
      await expect.poll(() => param('status')).toBe('locked');
      await expect
        .poll(names)
        .toEqual(
          ['rep-27', 'rep-24', 'rep-21', 'rep-18', 'rep-15', 'rep-12', 'rep-09', 'rep-06', 'rep-03', 'rep-00'].filter(
            (n) => round === 1 || n !== 'rep-00',
          ),
        );
      expect(await sorted()).toBe('Email ▲ ascending');
      await page.getByLabel('Status').selectOption({ label: 'Any' });
      await submitIfNoScript();
      await expect.poll(() => names().then((n) => n.length)).toBe(25);

      await table().getByRole('link', { name: 'Next' }).click();
      await expect.poll(() => param('page')).toBe('2');
      await expect.poll(() => table().getByText('Page 2 of 2').count()).toBe(1);
      expect(await sorted()).toBe('Email ▲ ascending');
      expect(param('sort')).toBe('email');
      expect(param('q')).toBe('rep-');

      // Sorting again: descending, from page 1.
      await table().getByRole('link', { name: 'Email' }).click();
      await expect.poll(sorted).toBe('Email ▼ descending');
      await expect.poll(() => param('dir')).toBe('desc');
      expect(param('page')).toBeNull();
      expect((await names())[0]).toBe(round === 1 ? 'rep-00' : 'rep-01'); // rep-00 went in round 1

      // Delete the first row, confirming: the count drops, the table says so, the sort stays.
      const victim = (await names())[0]!;
      await table().locator(`summary[aria-label="Actions for ${victim}"]`).click();
      await table()
        .locator('tr', { has: page.getByRole('link', { name: victim, exact: true }) })
        .getByRole('link', { name: 'Delete' })
        .click();
      if (javaScriptEnabled) {
        await expect.poll(() => dialogs.at(-1)).toBe(`Delete user ${victim}? This cannot be undone.`);
      } else {
        await page.getByRole('heading', { name: `Delete user ${victim}?` }).waitFor();
        await page.getByRole('button', { name: 'Delete User' }).click();
        // Back on the list: the message is in the table's section.
        await page.goto(`/admin/users?q=rep-&sort=email&dir=desc`);
      }
      if (javaScriptEnabled) await table().getByRole('status').getByText(`User ${victim} deleted.`).waitFor();
      await expect.poll(() => table().locator('#users-count').textContent()).toBe(`${total - 1} users matching “rep-”`);
      expect(await names()).not.toContain(victim);
      if (javaScriptEnabled) {
        expect(await sorted()).toBe('Email ▼ descending');
        expect(param('sort')).toBe('email');
        expect(param('dir')).toBe('desc');
      }
      // The next round starts from the unsorted list, as an admin coming back would.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
      await expect.poll(() => param('sort')).toBeNull();
      if (round === 1) expect(await names()).not.toContain('rep-00');
    }
    if (javaScriptEnabled)
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(19);
  });

  it('shows the message of a delete without script inside the table, not at the top', async () => {
    if (javaScriptEnabled) return; // the in-place case is asserted above
    const victim = 'rep-02';
    await page.goto('/admin/users?q=rep-02');
    await table().locator(`summary[aria-label="Actions for ${victim}"]`).click();
    await table().getByRole('link', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete User' }).click();
    await table().getByRole('status').getByText(`User ${victim} deleted.`).waitFor();
    expect(new URL(page.url()).hash).toBe('#users-table');
  });

  it("opens one row menu at a time, covering no other row's controls; with script Escape and a click elsewhere close it", async () => {
    await page.goto('/admin/users?q=rep-');
    const summaries = table().locator('summary');
    for (const index of [0, 1, 2, 5]) {
      await summaries.nth(index).click();
      expect(await table().locator('details[open]').count()).toBe(1);
      // Every other row's ⋯ button and user link is still what a click at its centre reaches.
      const covered = await page.evaluate(() => {
        const open = document.querySelector('#users-table details[open]')!;
        return [...document.querySelectorAll('#users-table tbody tr')]
          .filter((row) => !row.contains(open))
          .flatMap((row) => [...row.querySelectorAll('summary, td:first-child a')])
          .filter((control) => {
            const box = control.getBoundingClientRect();
            const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
            return box.bottom > 0 && box.top < window.innerHeight && !control.contains(hit);
          })
          .map((control) => control.outerHTML);
      });
      expect(covered).toEqual([]);
    }
    if (javaScriptEnabled) {
      await page.keyboard.press('Escape');
      expect(await table().locator('details[open]').count()).toBe(0);
      await summaries.nth(3).click();
      await page.getByRole('heading', { name: 'Users' }).click();
      expect(await table().locator('details[open]').count()).toBe(0);
    }
  });

  it('never scrolls the page sideways at 768, 1024 and 1280 px, and says Never for no session', async () => {
    for (const width of [768, 1024, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto('/admin/users?q=rep-');
      const { scrollWidth, clientWidth } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
      }));
      expect(scrollWidth, `at ${width} px`).toBeLessThanOrEqual(clientWidth);
    }
    expect(await table().locator('tbody tr').first().locator('td').nth(6).textContent()).toBe('Never');
  });

  it('ran without script errors or CSP violations', () => {
    expect(session.errors).toEqual([]);
  });
});
