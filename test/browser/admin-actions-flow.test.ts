import { eq } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groups, groupSettings, users, workspaces } from '../../src/db/schema.js';
import {
  JS_MODES,
  skipBrowserTests,
  loginAsFirstAdmin,
  openBrowserSession,
  type BrowserSession,
} from '../helpers/browser.js';
import { seedUser } from '../helpers/factories.js';

// The rest of an admin's day (issue 19), as a person does it with JavaScript off and on: the
// user page's Reset 2FA and Log Out Everywhere ask first (a confirm page, or the browser's
// dialog asking the same), and at the session limit the "Cannot launch" page offers End, not
// Launch — end one, then a launch works. Each action runs twice in a row.
describe.skipIf(skipBrowserTests).each(JS_MODES)(
  'confirm steps and the session limit with $mode',
  ({ javaScriptEnabled }) => {
    let session: BrowserSession;
    let page: Page;
    let samId = '';
    const dialogs: string[] = [];

    beforeAll(async () => {
      session = await openBrowserSession(javaScriptEnabled);
      samId = (await seedUser(session.server.handle.db, 'sam', 'a long user password')).id;
      page = session.page;
      page.on('dialog', (dialog) => void dialogs.push(dialog.message())); // accepted by the helper
      await loginAsFirstAdmin(page);
    });

    afterAll(() => session?.close());

    /** Clicks `button`; without JavaScript answers the confirm page that asks `question`, with it the dialog. */
    async function confirmThrough(button: string, question: string, confirmButton: string) {
      const before = dialogs.length;
      await page.getByRole('button', { name: button, exact: true }).click();
      if (javaScriptEnabled) {
        await expect.poll(() => dialogs.slice(before)).toEqual([question]);
      } else {
        await page.getByRole('heading', { name: question }).waitFor();
        await page.getByRole('button', { name: confirmButton, exact: true }).click();
      }
    }

    it("resets a user's second factor after confirming, twice; the second time there is nothing to reset", async () => {
      const db = session.server.handle.db;
      for (let round = 0; round < 2; round++) {
        await db.update(users).set({ twoFactorEnabled: true, twoFactorSecret: 'sealed' }).where(eq(users.id, samId));
        await page.goto(`/admin/users/${samId}`);
        await page.getByText('They can enrol again from their profile.').first().waitFor();
        await confirmThrough(
          'Reset Two Factor Authentication Secret',
          'Reset two-factor authentication of sam?',
          'Reset Two Factor Authentication',
        );
        await page
          .getByRole('status')
          .getByText('Two-factor authentication of sam was reset. They can enrol again from their profile.')
          .waitFor();
        await page.getByText('sam has no second factor: there is nothing to reset.').waitFor();
        expect(await page.getByRole('button', { name: 'Reset Two Factor Authentication Secret' }).count()).toBe(0);
      }
    });

    it('logs a user out everywhere after confirming, twice', async () => {
      await page.goto(`/admin/users/${samId}`);
      for (let round = 0; round < 2; round++) {
        await confirmThrough('Log Out Everywhere', 'Log out sam everywhere?', 'Log Out Everywhere');
        await page.getByRole('status').getByText('sam was logged out everywhere (0 sessions).').waitFor();
      }
    });

    it('at the session limit offers End instead of Launch; ending one lets the next launch through, twice', async () => {
      const db = session.server.handle.db;
      const [workspace] = await db
        .insert(workspaces)
        .values({ friendlyName: 'Desk', image: 'kasmweb/desktop:1.16.0' })
        .returning();
      const [admins] = await db.select().from(groups).where(eq(groups.systemKey, 'administrators'));
      await db.insert(groupSettings).values([
        { groupId: admins!.id, key: 'default_image', value: workspace!.id },
        { groupId: admins!.id, key: 'max_kasms_per_user', value: 1 },
        { groupId: admins!.id, key: 'allow_kasm_delete', value: true },
      ]);
      await page.goto('/profile');
      await page.getByRole('button', { name: 'Launch Now' }).click();
      await page.getByRole('heading', { name: 'Launching Desk' }).waitFor();
      for (let round = 0; round < 2; round++) {
        await page.goto('/profile');
        await page.getByRole('button', { name: 'Launch Now' }).click();
        await page.getByRole('heading', { name: 'Cannot launch' }).waitFor();
        await page.getByText('the most your groups allow (Max Sessions Per User is 1)').waitFor();
        expect(await page.getByRole('button', { name: /^Launch/ }).count()).toBe(0);
        await page.getByRole('link', { name: 'Your workspace sessions in your profile' }).waitFor();
        const before = dialogs.length;
        await page.getByRole('button', { name: 'End session of Desk' }).click();
        if (javaScriptEnabled) {
          await expect.poll(() => dialogs.length).toBe(before + 1);
          expect(dialogs.at(-1)).toMatch(/^End the session of Desk started \d{4}-\d\d-\d\d \d\d:\d\d UTC\?$/);
        } else {
          await page.getByRole('heading', { name: /^End the session of Desk started/ }).waitFor();
          await page.getByRole('button', { name: 'End Session' }).click();
        }
        await page.getByText('Session of Desk ended.').waitFor();
        await page.getByRole('button', { name: 'Launch Now' }).click();
        await page.getByRole('heading', { name: 'Launching Desk' }).waitFor();
      }
    });

    it('says "You have been logged out." after Log out', async () => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByRole('heading', { name: 'Log in to Roster' }).waitFor();
      await page.getByRole('status').getByText('You have been logged out.').waitFor();
    });

    it('ran without script errors or CSP violations', () => {
      expect(session.errors).toEqual([]);
    });
  },
);
