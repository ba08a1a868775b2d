// Rules for text that arrives from outside, one copy each: the request hook refuses NUL in
// every string of a request (plugins/request-text.ts), and every validator of a name or a
// destination path asks nameProblem (users, groups, workspaces, API keys, file mappings).
// Below the domain folders, so that all of them may import it.

/** A code point as Unicode writes it: U+200B, U+1FFFE. */
export const codePointLabel = (codePoint: number) => `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;

/** How a field of a request is named in a message: `target_user.username`, `permission[1]`. */
function childName(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  const shown = key.replaceAll('\u0000', '\\0'); // a NUL in a message would be the problem again
  return parent === '' ? shown : `${parent}.${shown}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  // Object.prototype, null, or the empty prototype of parsed forms and query strings: not an
  // instance of a class (an uploaded file, a Buffer), whose prototype has one of its own.
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

/**
 * The name of the first string in `value` that holds a NUL (a field value, or a field name at
 * any depth), or null. Walks plain objects and arrays only (an uploaded file's bytes are not
 * text), without recursion: a 1 MB JSON body can nest half a million levels deep.
 */
export function nulField(value: unknown, name = ''): string | null {
  const stack: Array<[unknown, string]> = [[value, name]];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return path;
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index--) stack.push([current[index], childName(path, index)]);
    } else if (isPlainObject(current)) {
      const keys = Object.keys(current);
      for (const key of keys) if (key.includes('\u0000')) return childName(path, key);
      for (let index = keys.length - 1; index >= 0; index--)
        stack.push([current[keys[index]!], childName(path, keys[index]!)]);
    }
  }
  return null;
}

/** Noncharacters: U+FDD0–U+FDEF and the last two code points of every plane (U+FFFE, U+10FFFF …). */
const isNoncharacter = (codePoint: number) =>
  (codePoint >= 0xfdd0 && codePoint <= 0xfdef) || (codePoint & 0xfffe) === 0xfffe;

/**
 * Why `text` cannot be a name or a destination path (the phrase after the field's label), or
 * null. Beyond control characters, names refuse what a reader cannot see or tell apart:
 * format characters (\p{Cf}: U+200B zero width space, U+202E right-to-left override, U+FEFF …),
 * noncharacters, lone surrogates and code points Unicode has not assigned (\p{Cn}), whose
 * rendering no one can predict.
 */
export function nameProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain a NUL character.';
  if (/\p{Cc}/u.test(text)) return 'must not contain control characters.';
  const found = /[\p{Cf}\p{Cn}\p{Cs}]/u.exec(text);
  if (!found) return null;
  const codePoint = found[0].codePointAt(0)!;
  const label = codePointLabel(codePoint);
  if (isNoncharacter(codePoint)) return `must not contain ${label}, which is a noncharacter (not meant for text).`;
  if (/\p{Cf}/u.test(found[0])) return `must not contain ${label}, an invisible formatting character.`;
  if (/\p{Cs}/u.test(found[0])) return `must not contain ${label}, half of a character (a lone surrogate).`;
  return `must not contain ${label}, which Unicode has not assigned.`;
}

/**
 * The scripts whose letters pass for each other: Latin a, Cyrillic а and Greek α; o, о, ο; p, р,
 * ρ. A name with letters from two of them (`аdmin` with a Cyrillic а) is refused as a lookalike
 * of another. A simple rule, not UTS #39's confusables table: names wholly in one script
 * (Cyrillic `асе` beside Latin `ace`) still pass, and other scripts may mix as real names do
 * (Japanese mixes Han, Hiragana, Katakana and Latin).
 */
const LOOKALIKE_SCRIPTS: ReadonlyArray<readonly [string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
];

/** Why a user name mixes lookalike scripts (the phrase after the field's label), or null. */
export function mixedScriptProblem(text: string): string | null {
  const scripts = LOOKALIKE_SCRIPTS.filter(([, letters]) => letters.test(text)).map(([script]) => script);
  if (scripts.length < 2) return null;
  return `mixes ${scripts.join(' and ')} letters, which look alike (such as Latin a and Cyrillic а): write it in one script.`;
}
