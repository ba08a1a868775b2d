import { describe, expect, it } from 'vitest';
import { formValuesFrom, validateUser } from '../../src/users/user-validation.js';
import { searchPattern } from '../../src/db/sql-helpers.js';
import { parseListQuery } from '../../src/users/routes.js';

const options = { mode: 'create' as const, passwordMinLength: 12 };
const valid = { username: 'alice', password: 'a fine long passphrase', realm: 'local' };

function errorsOf(body: Record<string, unknown>, mode: 'create' | 'update' = 'create') {
  const result = validateUser(body, { ...options, mode });
  return result.ok ? {} : result.errors;
}

describe('user validation (docs/rules.md#users)', () => {
  it('asks a password of a user who becomes local without one, beside Realm; a user who has one keeps it', () => {
    const toLocal = { username: 'lena', realm: 'local', password: '' };
    const refused = validateUser(toLocal, { mode: 'update', passwordMinLength: 12, hasPassword: false });
    expect(refused).toEqual({
      ok: false,
      errors: { realm: 'A local user needs a password: enter one to change the realm to local.' },
    });
    expect(validateUser(toLocal, { mode: 'update', passwordMinLength: 12, hasPassword: true }).ok).toBe(true);
    expect(
      validateUser(
        { ...toLocal, password: 'a fine long passphrase' },
        { mode: 'update', passwordMinLength: 12, hasPassword: false },
      ).ok,
    ).toBe(true);
    expect(
      validateUser({ ...toLocal, realm: 'ldap' }, { mode: 'update', passwordMinLength: 12, hasPassword: false }).ok,
    ).toBe(true);
  });

  it('accepts a complete user and trims text', () => {
    const result = validateUser(
      {
        ...valid,
        username: '  alice  ',
        first_name: ' Alice ',
        email: 'alice@example.com',
        notes: 'line one\nline two',
        locked: 'true',
        force_password_reset: 'true',
        custom_attribute_3: 'x'.repeat(1000),
      },
      options,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.user).toMatchObject({
      username: 'alice',
      firstName: 'Alice',
      realm: 'local',
      locked: true,
      disabled: false,
      forcePasswordReset: true,
      notes: 'line one\nline two',
    });
    expect(result.password).toBe('a fine long passphrase');
  });

  it('requires a user name of 1–255 characters without control characters', () => {
    expect(errorsOf({ ...valid, username: '   ' }).username).toBe('User Name is required.');
    expect(errorsOf({ ...valid, username: 'x'.repeat(256) }).username).toMatch(/at most 255/);
    expect(errorsOf({ ...valid, username: 'x'.repeat(255) }).username).toBeUndefined();
    expect(errorsOf({ ...valid, username: 'bad\u0007name' }).username).toMatch(/control characters/);
    expect(errorsOf({ ...valid, username: 'nul\u0000' }).username).toBe('User Name must not contain a NUL character.');
  });

  it('limits text fields by their documented lengths', () => {
    expect(errorsOf({ ...valid, first_name: 'x'.repeat(256) }).first_name).toMatch(/First Name must be at most 255/);
    expect(errorsOf({ ...valid, custom_attribute_1: 'x'.repeat(1001) }).custom_attribute_1).toMatch(/1,000/);
    expect(errorsOf({ ...valid, notes: 'x'.repeat(10_001) }).notes).toMatch(/10,000/);
    expect(errorsOf({ ...valid, notes: 'x'.repeat(10_000) }).notes).toBeUndefined();
    expect(errorsOf({ ...valid, notes: 'bad\u0000' }).notes).toMatch(/control/);
  });

  it('checks that an email looks like an address when given', () => {
    expect(errorsOf({ ...valid, email: 'not-an-address' }).email).toMatch(/look like an address/);
    expect(errorsOf({ ...valid, email: 'a@b' }).email).toMatch(/look like an address/);
    expect(errorsOf({ ...valid, email: 'a b@example.com' }).email).toMatch(/look like an address/);
    expect(errorsOf({ ...valid, email: '' }).email).toBeUndefined();
    expect(errorsOf({ ...valid, email: 'first.last+tag@mail.example.org' }).email).toBeUndefined();
  });

  it('knows the realms and requires a password for local users on create only', () => {
    expect(errorsOf({ ...valid, realm: 'kerberos' }).realm).toMatch(/local, ldap, saml, oidc/);
    expect(errorsOf({ ...valid, password: '' }).password).toMatch(/required for local users/);
    expect(errorsOf({ ...valid, password: '' }, 'update').password).toBeUndefined();
    expect(errorsOf({ username: 'bob', realm: 'ldap' }).password).toBeUndefined();
    expect(errorsOf({ username: 'bob', realm: 'ldap', password: 'x'.repeat(20) }).password).toMatch(
      /no local password/,
    );
  });

  it('applies the password policy', () => {
    expect(errorsOf({ ...valid, password: 'short' }).password).toMatch(/at least 12/);
    expect(errorsOf({ ...valid, password: 'alice-is-my-password' }).password).toMatch(/user name/);
  });

  it('refuses Force Password Reset for non-local realms', () => {
    expect(errorsOf({ username: 'bob', realm: 'saml', force_password_reset: 'true' }).force_password_reset).toMatch(
      /local users only/,
    );
  });

  it('keeps the entered values for the form, never the password', () => {
    const values = formValuesFrom({ ...valid, first_name: 'A', locked: 'true' });
    expect(values).toMatchObject({ username: 'alice', first_name: 'A', locked: true, disabled: false });
    expect(values).not.toHaveProperty('password');
  });
});

describe('users list query', () => {
  it('escapes LIKE wildcards and drops control characters in the search', () => {
    expect(searchPattern('  ')).toBeNull();
    expect(searchPattern('Al%i_c\\e')).toBe('%al\\%i\\_c\\\\e%');
    expect(searchPattern('a\u0000b')).toBe('%ab%');
  });

  it('fills in defaults, and 25 per page for a count that is not offered (the schema refuses the rest)', () => {
    expect(parseListQuery({ per_page: 7 })).toEqual({
      search: '',
      sort: 'username',
      direction: 'asc',
      page: 1,
      perPage: 25,
    });
    expect(parseListQuery({ q: 'x', sort: 'email', dir: 'desc', page: 4, per_page: 50 })).toEqual({
      search: 'x',
      sort: 'email',
      direction: 'desc',
      page: 4,
      perPage: 50,
    });
  });
});
