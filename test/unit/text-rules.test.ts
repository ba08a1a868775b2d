import { describe, expect, it } from 'vitest';
import { UploadedFile } from '../../src/file-mappings/mapping-input.js';
import { mixedScriptProblem, nameProblem, nulField } from '../../src/security/text-rules.js';

describe('nulField: the first string of a request holding a NUL', () => {
  it('names a leaf at any depth, array items by index', () => {
    expect(nulField({ api_key: 'k\u0000' })).toBe('api_key');
    expect(nulField({ target_user: { user_id: 'x', username: 'a\u0000b' } })).toBe('target_user.username');
    expect(nulField({ permission: ['users_view', 'a\u0000'] })).toBe('permission[1]');
    expect(nulField([{ a: [{ b: '\u0000' }] }])).toBe('[0].a[0].b');
    expect(nulField('\u0000', 'The api-key header')).toBe('The api-key header');
  });

  it('names a field whose name holds the NUL, shown as \\0', () => {
    expect(nulField({ outer: { 'na\u0000me': 'fine' } })).toBe('outer.na\\0me');
  });

  it('walks parsed forms and query strings (objects with an empty prototype)', () => {
    const parsed = new URLSearchParams('q=a%00');
    const form = Object.assign(Object.create(Object.create(null) as object) as Record<string, string>, Object.fromEntries(parsed));
    expect(nulField(form)).toBe('q');
    expect(nulField(Object.assign(Object.create(null) as object, { q: 'a\u0000' }))).toBe('q');
  });

  it('passes clean values, non-strings and the bytes of an uploaded file', () => {
    expect(nulField({ a: 'b', n: 1, t: true, z: null, list: ['x', 2], nested: { deeper: 'ok' } })).toBeNull();
    expect(nulField(undefined)).toBeNull();
    expect(nulField({ file: new UploadedFile('x.bin', Buffer.from([0, 0, 0]), false) })).toBeNull();
    expect(nulField({ text: 'a\u0001\u007f\uFFFE' })).toBeNull(); // only NUL is this rule's
  });

  it('walks a value nested deeper than the call stack would allow', () => {
    const depth = 200_000;
    const deep = JSON.parse('['.repeat(depth) + '"\\u0000"' + ']'.repeat(depth)) as unknown;
    expect(nulField(deep)).toBe('[0]'.repeat(depth));
    expect(nulField(JSON.parse('['.repeat(depth) + ']'.repeat(depth)))).toBeNull();
  });
});

describe('nameProblem: names and destination paths', () => {
  it('accepts names in any script, with spaces and punctuation', () => {
    for (const name of ['alice', 'Jürgen Groß', 'Ελένη', 'Алёна', '山田 太郎', 'sales-team (EU)', '/home/kasm-user/notes.txt', 'emoji 🎉']) {
      expect(nameProblem(name), name).toBeNull();
    }
  });

  it('refuses NUL and control characters', () => {
    expect(nameProblem('a\u0000b')).toBe('must not contain a NUL character.');
    for (const text of ['a\u0007', 'a\u001b[31m', 'a\u007f', 'a\u0085', 'a\tb']) expect(nameProblem(text), JSON.stringify(text)).toBe('must not contain control characters.');
  });

  it('refuses format characters, naming the code point', () => {
    expect(nameProblem('ad\u200Bmin')).toBe('must not contain U+200B, an invisible formatting character.');
    expect(nameProblem('file\u202Etxt.exe')).toBe('must not contain U+202E, an invisible formatting character.');
    for (const ch of ['\u00AD', '\u200D', '\u2066', '\uFEFF', '\u{E0041}']) expect(nameProblem(`a${ch}b`), ch).toMatch(/invisible formatting character/);
  });

  it('refuses noncharacters on every plane', () => {
    expect(nameProblem('a\uFFFE')).toBe('must not contain U+FFFE, which is a noncharacter (not meant for text).');
    for (const ch of ['\uFFFF', '\uFDD0', '\uFDEF', '\u{1FFFE}', '\u{10FFFF}']) expect(nameProblem(`a${ch}`), ch).toMatch(/noncharacter/);
    expect(nameProblem('a\uFDCF')).toBeNull(); // an assigned character just below the block
  });

  it('refuses unassigned code points and lone surrogates', () => {
    expect(nameProblem('a\u0378')).toBe('must not contain U+0378, which Unicode has not assigned.');
    expect(nameProblem('a\uD800b')).toBe('must not contain U+D800, half of a character (a lone surrogate).');
  });
});

describe('mixedScriptProblem: user names that pass for others', () => {
  it('refuses Latin letters mixed with Cyrillic or Greek ones', () => {
    expect(mixedScriptProblem('\u0430dmin')).toBe(
      'mixes Latin and Cyrillic letters, which look alike (such as Latin a and Cyrillic а): write it in one script.',
    );
    expect(mixedScriptProblem('p\u0430ypal')).toMatch(/^mixes Latin and Cyrillic/);
    expect(mixedScriptProblem('\u03BFscar')).toMatch(/^mixes Latin and Greek/); // Greek omicron
    expect(mixedScriptProblem('\u0410\u03B1')).toMatch(/^mixes Greek and Cyrillic/);
  });

  it('accepts one script, and scripts that do not pass for Latin', () => {
    for (const name of ['admin', 'Алёна', 'Ελένη', 'jürgen.groß-2', '山田taro', 'さとう サトウ 佐藤', 'admin_01@example']) {
      expect(mixedScriptProblem(name), name).toBeNull();
    }
  });
});
