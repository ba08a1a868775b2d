import { eq } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groups, userGroups, workspaceSessions } from '../../src/db/schema.js';
import type { LaunchPlan } from '../../src/workspaces/recorded-launch-plan.js';
import {
  JS_MODES,
  skipBrowserTests,
  loginAsFirstAdmin,
  openBrowserSession,
  type BrowserSession,
} from '../helpers/browser.js';
import { seedUser } from '../helpers/factories.js';

const POLICY =
  '{"ManagedBookmarks": [{"toplevel_name": "Roster"}, {"name": "Docs", "url": "https://kasmweb.com/docs"}], "BookmarkBarEnabled": true}\n';
const PATH = '/etc/opt/chrome/policies/managed/bookmarks.json';

// "Done when" of the workspaces issue, in a browser with JavaScript off and on: create a
// workspace, upload a file mapping, make the workspace a group's default with Auto Launch,
// preview the plan from the admin's user page, then log in as a member and land on the launch
// page showing the mapping.
describe.skipIf(skipBrowserTests).each(JS_MODES)('workspaces and launching with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  let page: Page;
  let userId = '';

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled);
    userId = (await seedUser(session.server.handle.db, 'ada.lovelace', 'engine number one')).id;
    page = session.page;
    await loginAsFirstAdmin(page);
  });

  afterAll(() => session?.close());

  it('creates a workspace, with a clear error for a bad image reference', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('link', { name: 'Add Workspace' }).click();
    await page.getByLabel('Friendly Name').fill('Chrome');
    await page.getByLabel('Image').fill('Chrome Latest');
    await page.getByLabel('Description').fill('The browser');
    await page.getByRole('button', { name: 'Create Workspace' }).click();
    await page.getByRole('alert').getByRole('link', { name: 'Image must be a container image reference' }).waitFor(); // the summary, linked to the field
    expect(await page.getByLabel('Friendly Name').inputValue()).toBe('Chrome');
    await page.getByLabel('Image').fill('kasmweb/chrome:1.16.0');
    await page.getByRole('button', { name: 'Create Workspace' }).click();
    await page.getByText('Workspace Chrome created.').waitFor();
  });

  it('uploads a file mapping and shows its size and SHA-256', async () => {
    await page.getByRole('link', { name: 'Add File Mapping' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Chrome bookmarks');
    await page.getByLabel('Destination Path').fill(PATH);
    await page
      .getByLabel('Upload a file')
      .setInputFiles({ name: 'bookmarks.json', mimeType: 'application/json', buffer: Buffer.from(POLICY) });
    await page.getByRole('button', { name: 'Add File Mapping' }).click();
    await page.getByText(`File mapping Chrome bookmarks added (${PATH}).`).waitFor();
    await page.getByRole('link', { name: 'Chrome bookmarks', exact: true }).click();
    await page
      .getByText(`${Buffer.byteLength(POLICY)} bytes`, { exact: false })
      .first()
      .waitFor();
    expect(await page.locator('#mapping-sha256').textContent()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("makes the workspace a group's default, with Auto Launch on", async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Groups' }).click();
    await page.getByRole('link', { name: 'Add Group' }).click();
    await page.getByLabel('Name').fill('Engineering');
    await page.getByLabel('Priority').fill('10');
    await page.getByRole('button', { name: 'Create Group' }).click();
    await page.getByText('Group Engineering created.').waitFor();
    for (const [label, choice] of [
      ['Default Workspace Image', 'Chrome'],
      ['Auto Launch Session', 'On'],
    ] as const) {
      await page.getByLabel('Add Setting').selectOption({ label });
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByLabel(label).selectOption({ label: choice });
      await page.getByRole('button', { name: 'Save Setting' }).click();
      await page.getByText(`${label} set to ${choice}.`).waitFor();
    }
    const [engineering] = await session.server.handle.db.select().from(groups).where(eq(groups.name, 'Engineering'));
    await session.server.handle.db.insert(userGroups).values({ userId, groupId: engineering!.id });
  });

  it("previews the launch plan from the user's page, recording nothing", async () => {
    await page.goto(`/admin/users/${userId}`);
    await page.getByLabel('Preview launch of').selectOption({ label: 'Chrome' });
    await page.getByRole('button', { name: 'Preview launch' }).click();
    await page.getByRole('heading', { name: 'Preview launch for ada.lovelace' }).waitFor();
    await page.locator('#plan-files').getByText(PATH).waitFor();
    expect(await session.server.handle.db.select().from(workspaceSessions)).toEqual([]);
  });

  it('a member with Auto Launch lands on the launch page after login, showing the mapping', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('User Name').fill('ada.lovelace');
    await page.getByLabel('Password', { exact: true }).fill('engine number one');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Launching Chrome' }).waitFor();
    // The mapping belongs to the workspace, which a plain member may not view: its file arrives
    // in the workspace, but the member's page only counts it.
    await page.getByText('1 file mapping is withheld: you may not view their owners.').waitFor();
    expect(await page.getByText(PATH).count()).toBe(0);
    const [recorded] = await session.server.handle.db.select().from(workspaceSessions);
    const file = (recorded!.plan as LaunchPlan).file_mappings[0]!;
    expect(Buffer.from(file.content_base64, 'base64').toString()).toBe(POLICY);
    await page.goto('/profile');
    await page.locator('#workspace-sessions').getByRole('link', { name: 'Chrome' }).waitFor();
    expect(session.errors).toEqual([]);
  });
});
