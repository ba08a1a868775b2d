import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../../src/security/password-policy.js';
import { hashPassword, needsRehash, verifyPassword } from '../../src/security/passwords.js';
import argon2 from 'argon2';

const context = { username: 'alice', minLength: 12 };

describe('password policy (NIST SP 800-63B)', () => {
  it('accepts a long passphrase without composition rules', () => {
    expect(passwordProblem('correct horse battery staple', context)).toBeNull();
    expect(passwordProblem('alllowercaseletters', context)).toBeNull();
  });

  it('counts characters, not bytes, for the minimum and maximum', () => {
    expect(passwordProblem('ééééééééééé', context)).toMatch(/at least 12/); // 11 chars, 22 bytes
    expect(passwordProblem('é'.repeat(12), context)).toBeNull();
    expect(passwordProblem('x'.repeat(256), context)).toBeNull();
    expect(passwordProblem('x'.repeat(257), context)).toMatch(/at most 256/);
  });

  it('honours a configured minimum', () => {
    expect(passwordProblem('sixteen-chars-ok', { ...context, minLength: 16 })).toBeNull();
    expect(passwordProblem('fifteen-chars-x', { ...context, minLength: 16 })).toMatch(/at least 16/);
  });

  it('rejects the most common passwords, ignoring case', () => {
    expect(passwordProblem('qwerty123456', context)).toMatch(/commonly used/);
    expect(passwordProblem('LeaveMeAlone', context)).toMatch(/commonly used/);
  });

  it('rejects a password containing the user name', () => {
    expect(passwordProblem('my name is Alice!!', context)).toMatch(/user name/);
    expect(passwordProblem('long enough password', { username: 'al', minLength: 12 })).toBeNull();
  });
});

describe('password hashing', () => {
  it('hashes with argon2id at OWASP strength and verifies', async () => {
    const hash = await hashPassword('a long test password');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(await verifyPassword(hash, 'a long test password')).toBe(true);
    expect(await verifyPassword(hash, 'another password')).toBe(false);
    expect(needsRehash(hash)).toBe(false);
  });

  it('asks for a rehash of weaker or other-variant hashes', async () => {
    const weak = await argon2.hash('x', { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    const argon2i = await argon2.hash('x', { type: argon2.argon2i, memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(needsRehash(weak)).toBe(true);
    expect(needsRehash(argon2i)).toBe(true);
    expect(needsRehash('not a hash')).toBe(true);
  });

  it('never authenticates against a malformed stored hash', async () => {
    expect(await verifyPassword('garbage', 'garbage')).toBe(false);
  });
});
