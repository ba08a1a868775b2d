// docs/rules.md#file-mappings-and-their-precedence: destination paths and the precedence of file mappings, exhaustively, as pure functions.
import { describe, expect, it } from 'vitest';
import { parseDestinationPath } from '../../src/file-mappings/destination-path.js';
import { effectiveFileMappings, type MappingCandidate } from '../../src/file-mappings/effective-mappings.js';
import {
  isText,
  lineEndingWarning,
  validateMapping,
  UploadedFile,
  CONTENT_MAX_BYTES,
} from '../../src/file-mappings/mapping-input.js';
import { modeOf } from '../../src/launches/launch-plan.js';

describe('destination paths', () => {
  it('normalises repeated slashes, `.` segments and a trailing slash', () => {
    for (const [raw, path] of [
      ['/a/b', '/a/b'],
      ['/a//b/', '/a/b'],
      ['//a///b', '/a/b'],
      ['/a/./b/.', '/a/b'],
      ['  /etc/opt/chrome/policies/managed/bookmarks.json  ', '/etc/opt/chrome/policies/managed/bookmarks.json'],
      ['/with space/ü.txt', '/with space/ü.txt'],
    ]) {
      expect(parseDestinationPath(raw!), raw).toEqual({ ok: true, path });
    }
  });

  it('refuses relative paths, `..`, NUL and control characters, the root, and more than 4096 bytes', () => {
    for (const [raw, message] of [
      ['', 'is required'],
      ['a/b', 'must be absolute'],
      ['./a', 'must be absolute'],
      ['/a/../b', 'must not contain ".."'],
      ['/..', 'must not contain ".."'],
      ['/a\u0000', 'NUL'],
      ['/a\nb', 'control characters'],
      ['/', 'must name a file'],
      ['//./', 'must name a file'],
      [`/${'é'.repeat(2048)}`, 'at most 4096 bytes'], // 4097 bytes in UTF-8
    ]) {
      const parsed = parseDestinationPath(raw!);
      expect(parsed.ok, raw).toBe(false);
      expect(parsed.ok ? '' : parsed.error, raw).toContain(message);
    }
    expect(parseDestinationPath(`/${'a'.repeat(4095)}`).ok).toBe(true);
    expect(parseDestinationPath('/a/..b/c..').ok).toBe(true); // only a whole `..` segment climbs
  });
});

const workspace = (name: string, path: string): MappingCandidate => ({
  id: `w-${name}`,
  name,
  destinationPath: path,
  origin: { type: 'workspace', name: 'Chrome' },
});
const group = (name: string, path: string, groupName: string, priority: number): MappingCandidate => ({
  id: `g-${name}`,
  name,
  destinationPath: path,
  origin: { type: 'group', name: groupName, priority },
});
const user = (name: string, path: string): MappingCandidate => ({
  id: `u-${name}`,
  name,
  destinationPath: path,
  origin: { type: 'user', name: 'ada' },
});

describe('effective file mappings', () => {
  it('considers the workspace, then groups by priority (lowest number first), then the user: the first wins each path', () => {
    const candidates = [
      user('U shadowed', '/p'),
      group('G50', '/p', 'Fifty', 50),
      workspace('W', '/p'),
      group('G10', '/q', 'Ten', 10),
      group('G20', '/q', 'Twenty', 20),
      user('U q', '/q'),
      user('U only', '/r'),
      group('G only', '/s', 'Fifty', 50),
    ];
    const { applied, skipped } = effectiveFileMappings(candidates);
    expect(applied.map((m) => m.name)).toEqual(['W', 'G10', 'G only', 'U only']);
    expect(skipped.map((s) => [s.mapping.name, s.reason])).toEqual([
      ['G20', "shadowed by group mapping 'G10' of Ten (priority 10)"],
      ['G50', "shadowed by workspace mapping 'W'"],
      ['U q', "shadowed by group mapping 'G10' of Ten (priority 10)"],
      ['U shadowed', "shadowed by workspace mapping 'W'"],
    ]);
  });

  it('gives the same answer whatever order the rows come in', () => {
    const candidates = [
      workspace('W', '/a'),
      group('G1', '/a', 'One', 1),
      group('G2', '/a', 'Two', 2),
      user('U', '/a'),
      group('G2b', '/b', 'Two', 2),
      user('Ub', '/b'),
    ];
    const expected = effectiveFileMappings(candidates);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...candidates].sort(() => Math.random() - 0.5);
      expect(effectiveFileMappings(shuffled)).toEqual(expected);
    }
  });

  it('treats equivalent paths as the same destination (`/a/b` and `/a//b/`)', () => {
    const { applied, skipped } = effectiveFileMappings([group('G', '/a//b/', 'G', 5), workspace('W', '/a/b')]);
    expect(applied.map((m) => m.name)).toEqual(['W']);
    expect(skipped).toHaveLength(1);
  });

  it('breaks ties of priority by group name, then mapping name, then id (priorities are unique, but the order must be total)', () => {
    const { applied } = effectiveFileMappings([group('x', '/a', 'Beta', 5), group('y', '/a', 'Alpha', 5)]);
    expect(applied[0]!.origin).toMatchObject({ name: 'Alpha' });
    const sameGroup = effectiveFileMappings([
      { ...group('b', '/a', 'G', 5), id: '2' },
      { ...group('a', '/a', 'G', 5), id: '1' },
    ]);
    expect(sameGroup.applied[0]!.name).toBe('a');
  });

  it('keeps distinct paths and returns nothing for nothing', () => {
    expect(effectiveFileMappings([])).toEqual({ applied: [], skipped: [] });
    expect(effectiveFileMappings([user('a', '/a'), user('b', '/b')]).applied).toHaveLength(2);
  });
});

describe('mapping content', () => {
  it('takes an upload byte for byte, text with LF line ends, and refuses more than 5 MB', () => {
    const base = { name: 'n', destination_path: '/x' };
    const bytes = Buffer.from([0, 13, 10, 255]);
    const upload = validateMapping(
      { ...base, content: 'ignored', file: new UploadedFile('f.bin', bytes, false) },
      { hasContent: false, keepsText: false },
    );
    expect(upload.ok && upload.value.content).toEqual({ bytes, fileName: 'f.bin' });
    const text = validateMapping({ ...base, content: 'a\r\nb\rc' }, { hasContent: false, keepsText: false });
    expect(text.ok && text.value.content!.bytes.toString()).toBe('a\nb\nc');
    const tooLarge = validateMapping(
      { ...base, file: new UploadedFile('big', Buffer.alloc(10), true) },
      { hasContent: false, keepsText: false },
    );
    expect(tooLarge.ok ? '' : tooLarge.errors.file).toContain('larger than 5 MB');
    const bigText = validateMapping(
      { ...base, content: 'x'.repeat(CONTENT_MAX_BYTES + 1) },
      { hasContent: false, keepsText: false },
    );
    expect(bigText.ok ? '' : bigText.errors.content).toContain('larger than 5 MB');
    // Something that only looks like an upload (a JSON body) is not one.
    const forged = validateMapping(
      { ...base, file: { fileName: 'x', data: 'AAAA', tooLarge: false } },
      { hasContent: false, keepsText: false },
    );
    expect(forged.ok).toBe(false);
    // An edit without new content keeps the stored content.
    const keep = validateMapping({ ...base, content: '' }, { hasContent: true, keepsText: false });
    expect(keep.ok && keep.value.content).toBeNull();
  });

  it('warns about CRLF only in executable text', () => {
    expect(lineEndingWarning(Buffer.from('#!/bin/sh\r\necho\r\n'), true)).toContain('Windows line endings');
    expect(lineEndingWarning(Buffer.from('#!/bin/sh\r\n'), false)).toBeNull();
    expect(lineEndingWarning(Buffer.from('#!/bin/sh\necho\n'), true)).toBeNull();
    expect(lineEndingWarning(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 13, 10]), true)).toBeNull(); // a binary
    expect(isText(Buffer.from([0xc3, 0x28]))).toBe(false);
  });

  it('gives writable files to the session user and read-only ones to root', () => {
    expect([modeOf(true, false), modeOf(true, true), modeOf(false, false), modeOf(false, true)]).toEqual([
      '0644',
      '0755',
      '0444',
      '0555',
    ]);
  });
});
