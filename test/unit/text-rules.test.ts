import { describe, expect, it } from 'vitest';
import { validateApiKey } from '../../src/api-keys/api-key-validation.js';
import { UploadedFile, validateMapping } from '../../src/file-mappings/mapping-input.js';
import { validateGroup } from '../../src/groups/group-validation.js';
import { sshKeyProblem } from '../../src/settings/user-settings.js';
import { normalUserName, validateUser } from '../../src/users/user-validation.js';
import { validateWorkspace } from '../../src/workspaces/workspace-validation.js';
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
    const form = Object.assign(
      Object.create(Object.create(null) as object) as Record<string, string>,
      Object.fromEntries(parsed),
    );
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
    for (const name of [
      'alice',
      'Jürgen Groß',
      'Ελένη',
      'Алёна',
      '山田 太郎',
      'sales-team (EU)',
      '/home/kasm-user/notes.txt',
      'emoji 🎉',
    ]) {
      expect(nameProblem(name), name).toBeNull();
    }
  });

  it('refuses NUL and control characters', () => {
    expect(nameProblem('a\u0000b')).toBe('must not contain a NUL character.');
    for (const text of ['a\u0007', 'a\u001b[31m', 'a\u007f', 'a\u0085', 'a\tb'])
      expect(nameProblem(text), JSON.stringify(text)).toBe('must not contain control characters.');
  });

  it('refuses format characters, naming the code point', () => {
    expect(nameProblem('ad\u200Bmin')).toBe('must not contain U+200B, an invisible formatting character.');
    expect(nameProblem('file\u202Etxt.exe')).toBe('must not contain U+202E, an invisible formatting character.');
    for (const ch of ['\u00AD', '\u200D', '\u2066', '\uFEFF', '\u{E0041}'])
      expect(nameProblem(`a${ch}b`), ch).toMatch(/invisible formatting character/);
  });

  it('refuses noncharacters on every plane', () => {
    expect(nameProblem('a\uFFFE')).toBe('must not contain U+FFFE, which is a noncharacter (not meant for text).');
    for (const ch of ['\uFFFF', '\uFDD0', '\uFDEF', '\u{1FFFE}', '\u{10FFFF}'])
      expect(nameProblem(`a${ch}`), ch).toMatch(/noncharacter/);
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
    for (const name of [
      'admin',
      'Алёна',
      'Ελένη',
      'jürgen.groß-2',
      '山田taro',
      'さとう サトウ 佐藤',
      'admin_01@example',
    ]) {
      expect(mixedScriptProblem(name), name).toBeNull();
    }
  });
});

describe('every name and destination path validator asks nameProblem', () => {
  const validators: Array<[string, (text: string) => string | undefined]> = [
    [
      'user name',
      (text) =>
        errorsOf(
          validateUser(
            { username: text, password: 'a fine long passphrase', realm: 'local' },
            { mode: 'create', passwordMinLength: 12 },
          ),
        ).username,
    ],
    ['group name', (text) => errorsOf(validateGroup({ name: text, priority: '10' })).name],
    [
      'workspace name',
      (text) =>
        errorsOf(
          validateWorkspace({ friendly_name: text, image: 'kasmweb/chrome:1.16.0', cores: '1', memory_mb: '1024' }),
        ).friendly_name,
    ],
    ['API key name', (text) => errorsOf(validateApiKey({ name: text }, new Date())).name],
    [
      'file mapping name',
      (text) =>
        errorsOf(
          validateMapping(
            { name: text, destination_path: '/a', content: 'x' },
            { hasContent: false, keepsText: false },
          ),
        ).name,
    ],
    [
      'destination path',
      (text) =>
        errorsOf(
          validateMapping(
            { name: 'n', destination_path: `/home/${text}`, content: 'x' },
            { hasContent: false, keepsText: false },
          ),
        ).destination_path,
    ],
  ];
  const refused: Array<[string, RegExp]> = [
    ['\u200B', /U\+200B, an invisible formatting character/],
    ['\u202E', /U\+202E, an invisible formatting character/],
    ['\uFEFF', /U\+FEFF, an invisible formatting character/],
    ['\uFFFE', /U\+FFFE, which is a noncharacter/],
    ['\uFFFF', /U\+FFFF, which is a noncharacter/],
    ['\uFDD0', /U\+FDD0, which is a noncharacter/],
    ['\u0378', /U\+0378, which Unicode has not assigned/],
    ['\u001b', /control characters/],
    ['\u0000', /NUL/],
  ];

  it.each(validators)('%s: accepts a plain name', (_label, problemOf) => {
    expect(problemOf('walk-name')).toBeUndefined();
    expect(problemOf('Jürgen Groß 山田')).toBeUndefined();
  });

  it.each(validators)(
    '%s: refuses invisible, noncharacter, unassigned and control code points',
    (_label, problemOf) => {
      for (const [ch, message] of refused) expect(problemOf(`ab${ch}cd`), JSON.stringify(ch)).toMatch(message);
    },
  );
});

describe('user names', () => {
  const create = (username: string) =>
    validateUser(
      { username, password: 'a fine long passphrase', realm: 'local' },
      { mode: 'create', passwordMinLength: 12 },
    );

  it('are stored in NFC, however the accent was typed', () => {
    const decomposed = create('Jose\u0301');
    expect(decomposed.ok && decomposed.user.username).toBe('Jos\u00e9');
    expect(normalUserName('  Jose\u0301 ')).toBe('Jos\u00e9');
  });

  it('refuse lookalike script mixes, beside the field', () => {
    expect(errorsOf(create('\u0430dmin')).username).toBe(
      'User Name mixes Latin and Cyrillic letters, which look alike (such as Latin a and Cyrillic а): write it in one script.',
    );
    expect(create('Алёна').ok).toBe(true);
  });
});

describe('SSH public keys', () => {
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
  it('refuse escape sequences and invisible characters in the comment', () => {
    expect(sshKeyProblem(`${key} alice@laptop`)).toBeNull();
    expect(sshKeyProblem(`${key} alice\u001b[2J@laptop`)).toBe('comment must not contain control characters.');
    expect(sshKeyProblem(`${key} alice\u202E@laptop`)).toBe(
      'comment must not contain U+202E, an invisible formatting character.',
    );
    expect(sshKeyProblem(`${key} alice\u0000`)).toBe('comment must not contain a NUL character.');
  });
});

function errorsOf(result: { ok: true } | { ok: false; errors: Record<string, string> }): Record<string, string> {
  return result.ok ? {} : result.errors;
}
