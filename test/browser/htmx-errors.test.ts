import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { users } from '../../src/db/schema.js';
import { loginAsFirstAdmin, openBrowserSession, skipBrowserTests, type BrowserSession } from '../helpers/browser.js';
import { seedUser } from '../helpers/factories.js';
import { USER_PASSWORD } from '../helpers/test-app.js';

// An in-place action that fails shows its message where the person is looking — not a whole
// error page nested in a table row. (With JavaScript off the same action is a plain page.)
describe.skipIf(skipBrowserTests)('a failing htmx action, JavaScript on', () => {
  let session: BrowserSession;

  beforeAll(async () => {
    session = await openBrowserSession(true, [401, 404, 422]);
  });
  afterAll(() => session?.close());

  it('shows the error in the alert region and leaves the page whole', async () => {
    const { page, server } = session;
    const gone = await seedUser(server.handle.db, 'gone-meanwhile', USER_PASSWORD);
    await loginAsFirstAdmin(page);
    await page.goto('/admin/users');
    await page.locator('summary[aria-label="Actions for gone-meanwhile"]').click(); // the row's menu
    const remove = page
      .locator('tr', { has: page.getByRole('link', { name: 'gone-meanwhile', exact: true }) })
      .getByRole('link', { name: 'Delete' });
    await remove.waitFor();
    // Someone else deletes the user while this page is open.
    await server.handle.db.delete(users).where(eq(users.id, gone.id));
    await remove.click(); // confirm dialog accepted
    await page.locator('#htmx-alert').getByRole('alert').getByText('This user does not exist (any more).').waitFor();
    expect(await page.locator('header.topbar').count()).toBe(1);
    expect(await page.locator('#users-table h1').count()).toBe(0);
    expect(await page.getByRole('heading', { name: 'Users', exact: true }).count()).toBe(1);
    expect(session.errors).toEqual([]);
  });

  it('shows a loading indicator only while a search is under way', async () => {
    const { page } = session;
    await page.goto('/admin/users');
    const indicator = page.locator('#users-busy');
    expect(await indicator.isVisible()).toBe(false);
    // Hold the search's answer until the indicator has been seen.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route('**/admin/users?q=*', async (route) => {
      await held;
      await route.continue();
    });
    await page.getByLabel('Search users').fill('adm');
    await expect.poll(() => indicator.isVisible()).toBe(true);
    release();
    await expect.poll(() => indicator.isVisible()).toBe(false);
    await page.unroute('**/admin/users?q=*');
  });
});
