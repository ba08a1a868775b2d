import { describe, expect, it } from 'vitest';
import {
  elements,
  expectLeadingElement,
  expectElement,
  expectNoElement,
  innerHtml,
  leadingElement,
  startTags,
  textContent,
} from '../helpers/html.js';

const page = `<!-- <input id="commented-out"> -->
<form method="post" action="/admin/users/1/delete"
  hx-post="/admin/users/1/delete" hx-confirm='Delete "ada"?'>
  <input type="hidden" name="_csrf" value="t0k&amp;en">
  <select id="s-theme" name="theme" required
    aria-invalid="true"><option value="dark" selected>Dark</option><option value=light>Light</option></select>
  <button type="submit" class="danger">Delete <span class="visually-hidden">ada</span></button>
</form>
<p class="flash flash-success" role="status">User ada
  deleted.</p>`;

describe('startTags', () => {
  it('reads each start tag: its name and attributes in any quoting, bare ones as empty, comments skipped', () => {
    const tags = startTags(page);
    expect(tags.map((t) => t.name)).toEqual(['form', 'input', 'select', 'option', 'option', 'button', 'span', 'p']);
    expect(tags[0]!.attributes).toEqual({
      method: 'post',
      action: '/admin/users/1/delete',
      'hx-post': '/admin/users/1/delete',
      'hx-confirm': 'Delete "ada"?',
    });
    expect(tags[1]!.attributes.value).toBe('t0k&amp;en'); // as written: entities are not decoded
    expect(tags[2]!.attributes).toEqual({ id: 's-theme', name: 'theme', required: '', 'aria-invalid': 'true' });
    expect(tags[3]!.attributes).toEqual({ value: 'dark', selected: '' });
    expect(tags[4]!.attributes).toEqual({ value: 'light' });
    expect(page.slice(tags[1]!.start, tags[1]!.end)).toBe('<input type="hidden" name="_csrf" value="t0k&amp;en">');
  });
});

describe('elements and expectElement', () => {
  it('match by attributes in any order and across line breaks', () => {
    expectElement(page, 'form', { 'hx-confirm': 'Delete "ada"?', action: '/admin/users/1/delete', method: 'post' });
    expectElement(page, 'select', { 'aria-invalid': 'true', id: 's-theme' });
    expectElement(page, '*', { 'hx-post': /\/admin\/users\/\d+\/delete/ });
    expect(elements(page, 'option', { value: true })).toHaveLength(2);
  });

  it('with only, refuse an element that carries another attribute', () => {
    expectElement(page, 'option', { value: 'dark', selected: true }, { only: true });
    expect(elements(page, 'select', { id: 's-theme', name: 'theme' }, { only: true })).toEqual([]);
    expect(elements(page, 'select', { id: 's-theme', name: 'theme' })).toHaveLength(1);
  });

  it('compare a pattern with the whole value, not a part of it', () => {
    expect(elements(page, 'form', { action: /\/admin\/users\/\d+/ })).toEqual([]);
    expect(elements(page, 'form', { action: /\/admin\/users\/\d+\/delete/ })).toHaveLength(1);
  });

  it('compare the text content with whitespace collapsed, nested tags dropped', () => {
    const flash = expectElement(
      page,
      'p',
      { class: 'flash flash-success', role: 'status' },
      { text: 'User ada deleted.' },
    );
    expect(innerHtml(page, flash)).toBe('User ada\n  deleted.');
    const button = expectElement(page, 'button', { type: 'submit' }, { text: 'Delete ada' });
    expect(innerHtml(page, button)).toBe('Delete <span class="visually-hidden">ada</span>');
    expect(textContent(page, expectElement(page, 'form'))).toContain('Dark');
    expect(elements(page, 'p', { role: 'status' }, { text: 'User ada' })).toEqual([]);
  });

  it('fail, naming what was looked for and what is there, when no element matches', () => {
    expect(() => expectElement(page, 'option', { value: 'light', selected: true })).toThrow(
      /expected an element <option value="light" selected>; the option start tags are:\n {2}<option value="dark" selected>/,
    );
    expect(() => expectElement(page, 'input', { id: 'commented-out' })).toThrow(
      /expected an element <input id="commented-out">/,
    );
    expect(() => expectElement(page, 'p', { role: 'status' }, { text: 'User bob deleted.' })).toThrow(
      /with text "User bob deleted\."/,
    );
  });

  it('expectNoElement fails when one matches', () => {
    expectNoElement(page, 'option', { value: 'light', selected: true });
    expect(() => expectNoElement(page, 'option', { value: 'dark', selected: true })).toThrow(
      /expected no element <option value="dark" selected>, found: <option value="dark" selected>/,
    );
  });
});

describe('leadingElement', () => {
  it('is the first start tag only when the markup begins with it', () => {
    expect(leadingElement('<p class="x">a</p><b>')?.attributes).toEqual({ class: 'x' });
    expect(leadingElement('  \n<p class="x">')).toBeUndefined();
    expect(leadingElement('  \n<p class="x">', { leadingSpace: true })?.name).toBe('p');
    expect(leadingElement('text <p>', { leadingSpace: true })).toBeUndefined();
  });
});

describe('expectLeadingElement', () => {
  it('passes when the markup begins with the element, and fails when something else comes first', () => {
    expect(
      expectLeadingElement(
        '\n  <section id="members" class="panel">',
        'section',
        { id: 'members' },
        { leadingSpace: true },
      ).end,
    ).toBe(39);
    expect(() => expectLeadingElement('\n  <section id="members">', 'section', { id: 'members' })).toThrow(
      /expected the markup to begin with <section id="members">/,
    );
    expect(() =>
      expectLeadingElement('<section id="members" class="panel">', 'section', { id: 'members' }, { only: true }),
    ).toThrow(/\(no other attributes\)/);
  });
});
