import fs from 'node:fs';
import { createRequire } from 'node:module';
import { eq } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiKeys,
  groupMappings,
  groups,
  identityProviders,
  userGroups,
  users,
  workspaces,
  workspaceSessions,
} from '../../src/db/schema.js';
import { LDAP_PRESETS } from '../../src/directories/ldap-config.js';
import { loginAsFirstAdmin, openBrowserSession, skipBrowserTests, type BrowserSession } from '../helpers/browser.js';
import { createGroup, createIdentityProvider } from '../helpers/factories.js';

// axe-core checks the main pages against WCAG 2 A and AA (contrast included) in both themes.
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  help: string;
  nodes: Array<{ target: string[] }>;
}

async function violations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const found = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run: (context: Document, options: object) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations;
  });
  return found.map(
    (v) =>
      `${v.id}: ${v.help} (${v.nodes
        .map((n) => n.target.join(' '))
        .slice(0, 3)
        .join(', ')})`,
  );
}

describe.skipIf(skipBrowserTests)('accessibility (axe-core)', () => {
  let session: BrowserSession;
  let page: Page;
  let pages: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession(true);
    page = session.page;
    const server = session.server;
    await page.goto('/login');
    expect(await violations(page)).toEqual([]);
    await loginAsFirstAdmin(page);
    const [admin] = await server.handle.db.select().from(users).where(eq(users.username, 'admin'));
    const [allUsers] = await server.handle.db.select().from(groups).where(eq(groups.systemKey, 'all_users'));
    const [apiKey] = await server.handle.db
      .insert(apiKeys)
      .values({ name: 'Provisioning script', key: 'a11y-key', secretHash: '0'.repeat(64) })
      .returning();
    // A group with a member and a setting: its rows, picker and confirm steps.
    const team = await createGroup(server.handle.db, {
      name: 'Engineering',
      settings: { max_kasms_per_user: 3 },
    });
    const [member] = await server.handle.db
      .insert(users)
      .values({ username: 'ada.lovelace', firstName: 'Ada', lastName: 'Lovelace' })
      .returning();
    // A directory mapped into it, one member made by the mapping: the SSO Group Mappings section and its form.
    const mappedDirectory = await createIdentityProvider(server.handle.db, { name: 'Corp LDAP' });
    const [mapping] = await server.handle.db
      .insert(groupMappings)
      .values({
        groupId: team.id,
        providerId: mappedDirectory.id,
        groupDn: 'cn=Eng,dc=corp',
        matchKey: 'cn=eng,dc=corp',
      })
      .returning();
    await server.handle.db
      .insert(userGroups)
      .values({ userId: member!.id, groupId: team.id, sourceProviderId: mappedDirectory.id });
    const [workspace] = await server.handle.db
      .insert(workspaces)
      .values({ friendlyName: 'Chrome', image: 'kasmweb/chrome:1.16.0' })
      .returning();
    const [running] = await server.handle.db
      .insert(workspaceSessions)
      .values({ userId: admin!.id, workspaceId: workspace!.id, workspaceName: 'Chrome', plan: { settings: [] } })
      .returning();
    const [directory] = await server.handle.db
      .insert(identityProviders)
      .values({
        kind: 'ldap',
        name: 'Example Corp',
        secret: 'sealed',
        config: {
          ...LDAP_PRESETS.openldap,
          urls: ['ldaps://ldap.example'],
          bindDn: 'cn=roster',
          userSearchBase: 'dc=example',
          caCertificate: null,
          loginDomains: [],
          createUsersAtFirstLogin: false,
          syncIntervalMinutes: 0,
          allowUnencrypted: true,
        },
        lastSyncAt: new Date(),
        lastSync: {
          outcome: 'failed',
          seen: 0,
          updated: 0,
          disabled: 0,
          enabled: 0,
          errors: 1,
          message: 'did not answer',
        },
      })
      .returning();
    pages = [
      '/',
      '/profile',
      '/profile/2fa',
      '/admin/users',
      '/admin/users/new',
      `/admin/users/${admin!.id}`,
      `/admin/users/${admin!.id}/launch-preview?workspace=${workspace!.id}`,
      `/admin/users/${admin!.id}/logout`, // a confirm step
      `/workspace-sessions/${running!.id}/end`, // a confirm step
      '/admin/groups',
      `/admin/groups/${allUsers!.id}`,
      `/admin/groups/${team.id}`,
      `/admin/groups/${team.id}/members/${member!.id}/remove`,
      `/admin/groups/${team.id}/settings/max_kasms_per_user/remove`,
      `/admin/groups/${team.id}/sso-mappings/${mapping!.id}/remove`,
      '/admin/workspaces',
      '/admin/workspaces/new',
      `/admin/workspaces/${workspace!.id}`,
      `/admin/workspaces/${workspace!.id}/file-mappings/new`,
      '/go',
      '/admin/audit',
      '/admin/api-keys',
      '/admin/api-keys/new',
      `/admin/api-keys/${apiKey!.id}`,
      '/admin/auth',
      '/admin/auth/ldap/new?preset=active-directory',
      `/admin/auth/${directory!.id}`,
      `/admin/auth/${directory!.id}/delete`,
      '/api/public/reference',
    ];
  });

  afterAll(() => session?.close());

  it('catches a violation when there is one (the check itself works)', async () => {
    await page.goto('/');
    await page.evaluate(() =>
      document.querySelector('main')!.insertAdjacentHTML('beforeend', '<img src="/static/favicon.svg">'),
    );
    expect((await violations(page)).join('\n')).toMatch(/^image-alt:/m);
  });

  it('finds no violations in what group page actions leave: an in-section message, the error summary', async () => {
    const [team] = await session.server.handle.db.select().from(groups).where(eq(groups.name, 'Engineering'));
    await page.goto(`/admin/groups/${team!.id}`);
    await page.getByLabel('users_view').check();
    await page.getByRole('button', { name: 'Save Permissions' }).click();
    await page.locator('#permissions').getByRole('status').waitFor();
    await page.getByRole('link', { name: 'Remove ada.lovelace' }).click(); // hx-confirm, accepted
    await page.locator('#members').getByRole('status').waitFor();
    expect(await violations(page)).toEqual([]);
    await page.goto('/admin/groups/new');
    await page.getByRole('button', { name: 'Create Group' }).click();
    await page.getByRole('alert').filter({ hasText: 'There are 2 problems' }).waitFor();
    expect(await violations(page)).toEqual([]);
  });

  for (const theme of ['Light', 'Dark'] as const) {
    it(`finds no violations on the main pages in the ${theme} theme`, async () => {
      await page.goto('/profile');
      await page.locator('#setting-theme').getByLabel('Theme').selectOption(theme);
      await page.locator('#setting-theme').getByRole('button', { name: 'Save' }).click();
      await expect.poll(() => page.locator('html').getAttribute('data-theme')).toBe(theme.toLowerCase());
      const found: string[] = [];
      for (const path of pages) {
        await page.goto(path);
        for (const violation of await violations(page)) found.push(`${path} → ${violation}`);
      }
      expect(found).toEqual([]);
    });
  }
});
