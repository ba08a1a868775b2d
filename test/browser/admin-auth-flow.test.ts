import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JS_MODES,
  loginAsFirstAdmin,
  openBrowserSession,
  skipBrowserTests,
  type BrowserSession,
} from '../helpers/browser.js';
import { PEOPLE, SERVICE_DN, SERVICE_PASSWORD, skipSlapdTests, startSlapd, type Slapd } from '../helpers/slapd.js';

// An admin adds an LDAP directory in a browser with JavaScript off and on: the OpenLDAP preset
// over the URL already typed, the rest filled in, saved; then Test looks users up (twice, in
// place with JavaScript) and Sync now shows its report.
describe.skipIf(skipBrowserTests || skipSlapdTests).each(JS_MODES)(
  'identity providers with $mode',
  ({ javaScriptEnabled }) => {
    let session: BrowserSession;
    let slapd: Slapd;
    let page: Page;

    beforeAll(async () => {
      [session, slapd] = await Promise.all([openBrowserSession(javaScriptEnabled), startSlapd()]);
      page = session.page;
      await loginAsFirstAdmin(page);
    }, 60_000);
    afterAll(async () => {
      await Promise.all([session?.close(), slapd?.stop()]);
    });

    it('adds a directory from the OpenLDAP preset, keeping what was typed', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Authentication' }).click();
      await page.getByRole('link', { name: 'Add LDAP directory' }).click();
      await page.getByLabel('Name', { exact: true }).fill('Example Corp');
      await page.getByLabel('URLs').fill(slapd.ldapsUrl);
      await page.getByRole('button', { name: 'OpenLDAP' }).click();
      await page.getByText('OpenLDAP defaults filled in.').waitFor();
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Example Corp');
      expect(await page.getByLabel('URLs').inputValue()).toBe(slapd.ldapsUrl);
      expect(await page.getByLabel('Immutable id attribute').inputValue()).toBe('entryUUID');
      expect(await page.getByLabel('StartTLS').isChecked()).toBe(false); // the URL is ldaps://

      await page.getByLabel('CA certificate').fill(slapd.caCertificate);
      await page.getByLabel('Service account DN').fill(SERVICE_DN);
      await page.getByLabel('Search base', { exact: true }).fill(PEOPLE);
      await page.getByRole('button', { name: 'Add Directory' }).click();
      // The password is required, and never typed back into the form.
      await page.getByRole('alert').getByRole('link', { name: 'The service account password is required.' }).waitFor();
      expect(await page.getByLabel('Service account DN').inputValue()).toBe(SERVICE_DN);
      await page.getByLabel('Bind password').fill(SERVICE_PASSWORD);
      await page.getByRole('button', { name: 'Add Directory' }).click();
      await page.getByText('Directory Example Corp added, disabled').waitFor();
      await page.getByText('Set — leave empty to keep it.').waitFor();
      expect(await page.content()).not.toContain(SERVICE_PASSWORD);
    });

    it('tests user names with the service account, again and again', async () => {
      for (const username of ['alice', 'bob']) {
        await page.getByLabel('User name to look up').fill(username);
        await page.getByRole('button', { name: 'Test', exact: true }).click();
        await page.locator('#test-result').getByText(`uid=${username},${PEOPLE}`).waitFor();
      }
      // With JavaScript the section was swapped in place; without, the form's POST answered the page.
      expect(page.url().endsWith('/test')).toBe(!javaScriptEnabled);
      await page.getByLabel('User name to look up').fill('nobody');
      await page.getByRole('button', { name: 'Test', exact: true }).click();
      await page.locator('#test-result').getByText('User not found').waitFor();
    });

    it('enables the directory and syncs it now, showing the report', async () => {
      await page.getByRole('button', { name: 'Enable', exact: true }).click();
      await page.getByText('Directory Example Corp enabled.').waitFor();
      await page.getByText('Never synced.').waitFor();
      for (let round = 0; round < 2; round++) {
        await page.getByRole('button', { name: 'Sync now' }).click();
        await page
          .locator('#sync-report')
          .getByText(/^Completed, /)
          .waitFor();
      }
      expect(await page.locator('#sync-report').textContent()).toContain('Seen');
      expect(session.errors).toEqual([]);
    });
  },
);
