/**
 * Markup assertions by element and attribute, not by the text of the markup: a start tag is its
 * name and its attribute map, whatever the attributes' order and the whitespace between them, so a
 * view may wrap a long tag over lines (or reorder its attributes) without a test noticing.
 *
 * Attribute values are compared as they are written in the markup (entities are not decoded), so
 * an expected value is what the old `toContain('…value="…"')` string held.
 */
import { expect } from 'vitest';

export interface StartTag {
  /** The tag name, lower-cased. */
  name: string;
  /** Each attribute's value as written (`''` for a bare attribute such as `selected`). */
  attributes: Record<string, string>;
  /** Where the start tag begins and where it ends (just past its `>`) in the markup. */
  start: number;
  end: number;
}

/** An expected attribute value: exact text, a pattern for the whole value, or `true` for "present". */
export type AttributeValue = string | RegExp | true;

export interface ElementQuery {
  /** Only these attributes, no others (as a whole `<tag a="…" b="…">` string asserted). */
  only?: boolean;
  /** The element's text content (tags dropped, whitespace collapsed and trimmed), exactly. */
  text?: string;
}

const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'source',
  'track',
  'wbr',
]);

const START_TAG = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g;
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/** Comments blanked out (same length, so positions still match the markup). */
function withoutComments(html: string): string {
  return html.replace(/<!--[\s\S]*?-->/g, (comment) => ' '.repeat(comment.length));
}

/** Every start tag in the markup, in document order. */
export function startTags(html: string): StartTag[] {
  const tags: StartTag[] = [];
  for (const match of withoutComments(html).matchAll(START_TAG)) {
    const attributes: Record<string, string> = {};
    for (const a of match[2]!.matchAll(ATTRIBUTE)) {
      const name = a[1]!.toLowerCase();
      if (!(name in attributes)) attributes[name] = a[2] ?? a[3] ?? a[4] ?? '';
    }
    tags.push({ name: match[1]!.toLowerCase(), attributes, start: match.index, end: match.index + match[0].length });
  }
  return tags;
}

/** The markup between an element's start tag and its matching end tag ('' for a void element). */
export function innerHtml(html: string, tag: StartTag): string {
  if (VOID.has(tag.name)) return '';
  const source = withoutComments(html);
  const pattern = new RegExp(`<(/?)${tag.name}(?=[\\s/>])[^>]*>`, 'gi');
  pattern.lastIndex = tag.end;
  let depth = 1;
  for (const m of source.matchAll(pattern)) {
    if (m.index < tag.end) continue;
    depth += m[1] ? -1 : 1;
    if (depth === 0) return html.slice(tag.end, m.index);
  }
  return html.slice(tag.end);
}

/** An element's text: its inner markup without tags, whitespace collapsed to single spaces and trimmed. */
export function textContent(html: string, tag: StartTag): string {
  return innerHtml(html, tag)
    .replace(/<[^>]*>/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function valueMatches(actual: string | undefined, expected: AttributeValue): boolean {
  if (actual === undefined) return false;
  if (expected === true) return true;
  if (typeof expected === 'string') return actual === expected;
  return new RegExp(`^(?:${expected.source})$`, expected.flags.replace('g', '')).test(actual);
}

/**
 * The elements named `name` ('*': any) that carry every one of `attributes` (with `only`, no other
 * attribute) and, with `text`, whose text content is exactly that.
 */
export function elements(
  html: string,
  name: string,
  attributes: Record<string, AttributeValue> = {},
  query: ElementQuery = {},
): StartTag[] {
  const wanted = Object.entries(attributes).map(([key, value]) => [key.toLowerCase(), value] as const);
  return startTags(html).filter(
    (tag) =>
      (name === '*' || tag.name === name.toLowerCase()) &&
      wanted.every(([key, value]) => valueMatches(tag.attributes[key], value)) &&
      (!query.only || Object.keys(tag.attributes).length === wanted.length) &&
      (query.text === undefined || textContent(html, tag) === query.text),
  );
}

function describe(name: string, attributes: Record<string, AttributeValue>, query: ElementQuery): string {
  const attrs = Object.entries(attributes)
    .map(([key, value]) =>
      value === true ? key : `${key}=${typeof value === 'string' ? `"${value}"` : String(value)}`,
    )
    .join(' ');
  const text = query.text === undefined ? '' : ` with text "${query.text}"`;
  return `<${name}${attrs ? ' ' + attrs : ''}>${query.only ? ' (no other attributes)' : ''}${text}`;
}

/** Asserts that some element matches (see `elements`) and returns the first that does. */
export function expectElement(
  html: string,
  name: string,
  attributes: Record<string, AttributeValue> = {},
  query: ElementQuery = {},
): StartTag {
  const found = elements(html, name, attributes, query);
  if (found.length === 0) {
    const sameName = startTags(html)
      .filter((tag) => name === '*' || tag.name === name.toLowerCase())
      .slice(0, 20)
      .map((tag) => html.slice(tag.start, tag.end));
    expect.fail(
      `expected an element ${describe(name, attributes, query)}; the ${name} start tags are:\n  ${sameName.join('\n  ') || '(none)'}`,
    );
  }
  return found[0]!;
}

/** Asserts that no element matches (see `elements`). */
export function expectNoElement(
  html: string,
  name: string,
  attributes: Record<string, AttributeValue> = {},
  query: ElementQuery = {},
): void {
  const found = elements(html, name, attributes, query);
  if (found.length > 0) {
    expect.fail(
      `expected no element ${describe(name, attributes, query)}, found: ${html.slice(found[0]!.start, found[0]!.end)}`,
    );
  }
}

/** The first start tag of the markup, if the markup begins with it (after `leadingSpace`, when allowed). */
export function leadingElement(html: string, { leadingSpace = false } = {}): StartTag | undefined {
  const first = startTags(html)[0];
  if (!first) return undefined;
  const before = html.slice(0, first.start);
  return before === '' || (leadingSpace && before.trim() === '') ? first : undefined;
}

/**
 * Asserts that the markup begins with a start tag `name` carrying `attributes` (with `only`, no
 * others); with `leadingSpace`, whitespace may come first. Returns that tag.
 */
export function expectLeadingElement(
  html: string,
  name: string,
  attributes: Record<string, AttributeValue> = {},
  { only = false, leadingSpace = false }: { only?: boolean; leadingSpace?: boolean } = {},
): StartTag {
  const first = leadingElement(html, { leadingSpace });
  const matches =
    first !== undefined && elements(html.slice(first.start, first.end), name, attributes, { only }).length === 1;
  if (!matches) {
    expect.fail(
      `expected the markup to begin with ${describe(name, attributes, { only })}, it begins: ${html.slice(0, 200)}`,
    );
  }
  return first;
}
