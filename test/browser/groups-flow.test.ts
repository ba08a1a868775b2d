import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JS_MODES,
  skipBrowserTests,
  loginAsFirstAdmin,
  openBrowserSession,
  type BrowserSession,
} from '../helpers/browser.js';
import { createGroup, createIdentityProvider, seedUser } from '../helpers/factories.js';
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
    for (const username of ['ada.lovelace', 'charles.babbage'])
      await seedUser(session.server.handle.db, username, 'engine number one');
    // 50 or more users outside the group: the picker searches (below that it is a select).
    await session.server.handle.db
      .insert(users)
      .values(Array.from({ length: 60 }, (_, i) => ({ username: `filler-${i}` })));
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
    await page
      .getByRole('alert')
      .getByRole('link', { name: /Priority 1000 is already used by group All Users/ })
      .waitFor(); // in the error summary
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
    await members.getByRole('link', { name: 'ada.lovelace', exact: true }).waitFor();
    await members.getByText('1 member', { exact: true }).waitFor();
    expect(await page.getByLabel('Find user').inputValue()).toBe(''); // the picker is reset
    if (javaScriptEnabled) {
      // the row appeared in place: the page was not reloaded
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(1);
    } else {
      await page.getByText('ada.lovelace added to Engineering.').waitFor();
    }
  });

  it("shows the member's effective settings and their source", async () => {
    await page.locator('#members').getByRole('link', { name: 'ada.lovelace', exact: true }).click();
    const row = (key: string) => page.locator(`#effective-${key}`);
    await row('max_kasms_per_user').waitFor();
    expect(await row('max_kasms_per_user').innerText()).toMatch(/Max Sessions Per User\s+3\s+group Engineering/);
    expect(await row('allow_kasm_sharing').innerText()).toMatch(/Allow Sharing\s+On\s+group Engineering/);
    expect(await row('allow_kasm_audio').innerText()).toMatch(/Allow Audio\s+Off\s+default/);
  });

  it('removes the member and the effective values fall back', async () => {
    await page.goto(groupUrl);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 2)).catch(() => undefined);
    await page.getByRole('link', { name: 'Remove ada.lovelace' }).click();
    if (!javaScriptEnabled) await page.getByRole('button', { name: 'Remove ada.lovelace' }).click(); // the confirm step
    await page
      .locator('#members')
      .getByRole('link', { name: 'ada.lovelace', exact: true })
      .waitFor({ state: 'detached' });
    await page.locator('#members').getByText('0 members', { exact: true }).waitFor();
    if (javaScriptEnabled)
      expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(2); // in place
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
    for (const action of [
      'group_created',
      'group_settings_changed',
      'privilege_permissions_changed',
      'group_member_added',
      'group_member_removed',
    ]) {
      await table
        .getByRole('cell', { name: new RegExp(`^${action}`) })
        .first()
        .waitFor();
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

// The in-place flow a person repeats: three adds in a row, a remove (confirmed), a search, one more
// add — without a reload when JavaScript runs, each step leaving what a fresh load would show.
describe.skipIf(skipBrowserTests).each(JS_MODES)(
  'group members, added and removed again and again, with $mode',
  ({ javaScriptEnabled }) => {
    let session: BrowserSession;
    let page: Page;
    const dialogs: string[] = [];
    const people = [
      { username: 'ada.lovelace', firstName: 'Ada', lastName: 'Lovelace' },
      { username: 'charles.babbage', firstName: 'Charles', lastName: 'Babbage' },
      { username: 'grace.hopper', firstName: 'Grace', lastName: 'Hopper' },
      { username: 'alan.turing', firstName: 'Alan', lastName: 'Turing' },
    ];

    beforeAll(async () => {
      session = await openBrowserSession(javaScriptEnabled);
      page = session.page;
      await session.server.handle.db.insert(users).values(people);
      page.on('dialog', (dialog) => dialogs.push(dialog.message())); // accepted by the session's handler
      await loginAsFirstAdmin(page);
    });

    afterAll(() => session?.close());

    const members = () => page.locator('#members');
    const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker).catch(() => undefined);
    const setMarker = (n: number) =>
      page.evaluate((v) => ((window as unknown as { marker: number }).marker = v), n).catch(() => undefined);
    const focusedId = () => page.evaluate(() => document.activeElement?.id ?? '');

    /** The member's row shows their user name, first and last name; the count and the message are right. */
    async function expectMember(
      person: (typeof people)[number],
      groupName: string,
      count: number,
      verb: 'added to' | 'removed from',
    ) {
      await members()
        .getByRole('status')
        .filter({ hasText: `${person.username} ${verb} ${groupName}.` })
        .waitFor();
      await members()
        .getByText(`${count} ${count === 1 ? 'member' : 'members'}`, { exact: true })
        .waitFor();
      const row = members()
        .getByRole('row')
        .filter({ has: page.getByRole('link', { name: person.username, exact: true }) });
      if (verb === 'added to')
        expect(await row.innerText()).toMatch(
          new RegExp(`^${person.username}\\s+${person.firstName}\\s+${person.lastName}\\s+Manual\\s+Remove`),
        );
      else expect(await row.count()).toBe(0);
    }

    async function remove(person: (typeof people)[number], groupName: string) {
      const question = `Remove ${person.username} from ${groupName}?`;
      await members()
        .getByRole('link', { name: `Remove ${person.username}` })
        .click();
      if (javaScriptEnabled) {
        await expect.poll(() => dialogs.at(-1)).toBe(question); // hx-confirm asks what the page would
      } else {
        await page.getByRole('heading', { name: question }).waitFor();
        await page.getByRole('button', { name: `Remove ${person.username}` }).click();
      }
    }

    it('in dropdown mode (fewer than 50 outside): three adds in a row, a remove, one more add', async () => {
      const group = await createGroup(session.server.handle.db, { name: 'Analytics' });
      await page.goto(`/admin/groups/${group.id}`);
      await setMarker(1);
      const picker = page.getByLabel('User', { exact: true });
      for (const [i, person] of people.slice(0, 3).entries()) {
        await picker.selectOption({ label: person.username });
        await page.getByRole('button', { name: 'Add', exact: true }).click();
        await expectMember(person, 'Analytics', i + 1, 'added to');
        // The select no longer offers who was added; with JS the focus is back on it.
        expect(await picker.locator('option').allInnerTexts()).not.toContain(person.username);
        if (javaScriptEnabled) expect(await focusedId()).toBe('add-member');
      }
      await members().getByText('3 members', { exact: true }).waitFor();
      await remove(people[0]!, 'Analytics');
      await expectMember(people[0]!, 'Analytics', 2, 'removed from');
      expect(await picker.locator('option').allInnerTexts()).toContain('ada.lovelace'); // offered again
      await picker.selectOption({ label: 'alan.turing' });
      await page.getByRole('button', { name: 'Add', exact: true }).click();
      await expectMember(people[3]!, 'Analytics', 3, 'added to');
      if (javaScriptEnabled) expect(await marker()).toBe(1); // all of it without a reload
    });

    it('in search mode (50 or more outside): three adds in a row, a remove, a search, one more add', async () => {
      const db = session.server.handle.db;
      await db.insert(users).values(Array.from({ length: 60 }, (_, i) => ({ username: `filler-${i}` })));
      const group = await createGroup(db, { name: 'Research' });
      await page.goto(`/admin/groups/${group.id}`);
      await setMarker(2);
      const search = async (text: string) => {
        const field = page.getByLabel('Find user');
        if (javaScriptEnabled) {
          await field.fill('');
          await field.pressSequentially(text, { delay: 20 }); // suggestions as you type
        } else {
          await field.fill(text);
          await page.getByRole('button', { name: 'Search', exact: true }).click();
        }
      };
      for (const [i, person] of people.slice(0, 3).entries()) {
        await search(person.lastName.toLowerCase());
        await page.getByRole('button', { name: `Add ${person.username}` }).click();
        await expectMember(person, 'Research', i + 1, 'added to');
        expect(await page.getByLabel('Find user').inputValue()).toBe(''); // the picker is reset
        if (javaScriptEnabled) expect(await focusedId()).toBe('user-q');
      }
      await members().getByText('3 members', { exact: true }).waitFor();
      await remove(people[1]!, 'Research');
      await expectMember(people[1]!, 'Research', 2, 'removed from');
      // A search after all that still searches: members are not offered, the removed one is again.
      await search('lovelace');
      await page.getByText('No user matching “lovelace” outside this group.').waitFor();
      await search('babbage');
      await page.getByRole('button', { name: 'Add charles.babbage' }).waitFor();
      await search('turing');
      await page.getByRole('button', { name: 'Add alan.turing' }).click();
      await expectMember(people[3]!, 'Research', 3, 'added to');
      if (javaScriptEnabled) expect(await marker()).toBe(2);
    });

    /** The section's message is there and on screen (not at the top of a page scrolled elsewhere). */
    async function expectNote(sectionId: string, text: string) {
      const note = page.locator(`#${sectionId}`).getByRole('status').filter({ hasText: text });
      await note.waitFor();
      await expect
        .poll(
          () =>
            note.evaluate((el) => {
              const r = el.getBoundingClientRect();
              return r.top >= 0 && r.bottom <= window.innerHeight;
            }),
          { message: `${text} on screen` },
        )
        .toBe(true);
    }

    it('sets, edits and removes settings and saves permissions again and again, each message in its section', async () => {
      const group = await createGroup(session.server.handle.db, { name: 'Design' });
      await page.goto(`/admin/groups/${group.id}`);
      for (const value of ['3', '4']) {
        const edit = page.getByRole('link', { name: 'Edit Max Sessions Per User' });
        if (await edit.count()) await edit.click();
        else {
          await page.getByLabel('Add Setting').selectOption({ label: 'Max Sessions Per User' });
          await page.getByRole('button', { name: 'Next' }).click();
        }
        // The setting's own form (not the group page's "Edit/Remove Max Sessions Per User" links, which a boosted click leaves in view until it lands).
        await page.getByRole('button', { name: 'Save Setting' }).waitFor();
        await page.getByLabel('Max Sessions Per User', { exact: true }).fill(value);
        await page.getByRole('button', { name: 'Save Setting' }).click();
        await expectNote('settings', `Max Sessions Per User set to ${value}.`);
      }
      await page.getByLabel('Add Setting').selectOption({ label: 'Allow Sharing' });
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByLabel('Allow Sharing').selectOption('On');
      await page.getByRole('button', { name: 'Save Setting' }).click();
      await expectNote('settings', 'Allow Sharing set to On.');
      await setMarker(3);
      for (const label of ['Max Sessions Per User', 'Allow Sharing']) {
        await page.getByRole('link', { name: `Remove ${label}` }).click();
        const question = `Remove the setting ${label} from Design?`;
        if (javaScriptEnabled) await expect.poll(() => dialogs.at(-1)).toBe(question);
        else {
          await page.getByRole('heading', { name: question }).waitFor();
          await page.getByRole('button', { name: `Remove ${label}` }).click();
        }
        await expectNote('settings', `${label} removed; members get it from another group or the default.`);
      }
      await page.locator('#settings').getByText('This group sets nothing').waitFor();
      for (const checked of [true, false, true]) {
        await page.getByLabel('users_view').setChecked(checked);
        await page.getByRole('button', { name: 'Save Permissions' }).click();
        await expectNote('permissions', 'Permissions of Design saved.');
        expect(await page.getByLabel('users_view').isChecked()).toBe(checked);
        if (javaScriptEnabled) await page.locator('#permissions').getByRole('status').waitFor({ state: 'attached' });
      }
      if (javaScriptEnabled) expect(await marker()).toBe(3); // remove and save in place
    });

    it('Add Group lists every error at once in a summary that takes the focus', async () => {
      await page.goto('/admin/groups/new');
      await page.getByLabel('Priority').fill('abc');
      await page.getByRole('button', { name: 'Create Group' }).click();
      const summary = page.getByRole('alert').filter({ hasText: 'There are 2 problems' });
      await summary.waitFor();
      await expect.poll(() => summary.evaluate((el) => el === document.activeElement)).toBe(true);
      await summary.getByRole('link', { name: 'Name is required.' }).click();
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('f-name');
    });

    it('ran without script errors or CSP violations', () => {
      expect(session.errors).toEqual([]);
    });
  },
);

// SSO Group Mappings (docs/rules.md#sso-group-mappings): two adds in a row, an error beside the
// field with the values kept, a remove (confirmed) — in place when JavaScript runs.
describe.skipIf(skipBrowserTests).each(JS_MODES)('SSO group mappings, with $mode', ({ javaScriptEnabled }) => {
  let session: BrowserSession;
  let page: Page;
  let groupUrl = '';
  const dialogs: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession(javaScriptEnabled);
    page = session.page;
    const group = await createGroup(session.server.handle.db, { name: 'Operations' });
    await createIdentityProvider(session.server.handle.db, { name: 'Corp LDAP' });
    groupUrl = `/admin/groups/${group.id}`;
    page.on('dialog', (dialog) => dialogs.push(dialog.message()));
    await loginAsFirstAdmin(page);
  });

  afterAll(() => session?.close());

  const section = () => page.locator('#sso-mappings');
  const marker = () => page.evaluate(() => (window as unknown as { marker?: number }).marker).catch(() => undefined);

  it('adds mappings again and again, shows an error beside the field, and removes one', async () => {
    await page.goto(groupUrl);
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1)).catch(() => undefined);
    for (const dn of ['cn=Ops,ou=Groups,dc=corp', 'cn=Oncall,ou=Groups,dc=corp']) {
      await section().getByLabel('Provider', { exact: true }).selectOption({ label: 'Corp LDAP (LDAP)' });
      await section().getByLabel('Group DNs, one per line').fill(dn);
      await section().getByRole('button', { name: 'Add Mapping' }).click();
      await section()
        .getByRole('status')
        .filter({ hasText: `Mapped ${dn} (Corp LDAP) into Operations.` })
        .waitFor();
      await section().getByRole('cell', { name: dn, exact: true }).waitFor();
    }
    await section().getByLabel('Provider', { exact: true }).selectOption({ label: 'Corp LDAP (LDAP)' });
    await section().getByLabel('Group DNs, one per line').fill('CN=OPS, OU=Groups, DC=corp');
    await section().getByRole('button', { name: 'Add Mapping' }).click();
    await section().getByText('Already mapped into Operations for Corp LDAP: cn=Ops,ou=Groups,dc=corp.').waitFor();
    expect(await section().getByLabel('Group DNs, one per line').inputValue()).toBe('CN=OPS, OU=Groups, DC=corp');

    const question = 'Remove the mapping of cn=Ops,ou=Groups,dc=corp (Corp LDAP) into Operations?';
    await section().getByRole('link', { name: 'Remove the mapping of cn=Ops,ou=Groups,dc=corp (Corp LDAP)' }).click();
    if (javaScriptEnabled) await expect.poll(() => dialogs.at(-1)).toBe(question);
    else {
      await page.getByRole('heading', { name: question }).waitFor();
      await page.getByRole('button', { name: 'Remove mapping' }).click();
    }
    await section()
      .getByRole('status')
      .filter({ hasText: 'Members it added stay until their next login or sync.' })
      .waitFor();
    expect(await section().getByRole('cell', { name: 'cn=Ops,ou=Groups,dc=corp', exact: true }).count()).toBe(0);
    await section().getByRole('cell', { name: 'cn=Oncall,ou=Groups,dc=corp', exact: true }).waitFor();
    if (javaScriptEnabled) expect(await marker()).toBe(1); // never reloaded
  });

  it('ran without script errors or CSP violations', () => {
    expect(session.errors).toEqual([]);
  });
});
