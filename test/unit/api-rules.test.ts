// The Developer API's pure rules: credentials, Kasm ids and expiry, the reference's fields, and
// the permission-panel helpers that groups and API keys share.
import { describe, expect, it } from 'vitest';
import { fieldsOf } from '../../src/api/api-reference.js';
import { expirationOf, fromKasmId, toKasmId } from '../../src/api/kasm-shapes.js';
import { CreateUserBody } from '../../src/schemas/api.js';
import {
  apiCredentialsOf,
  apiSecretMatches,
  hashApiSecret,
  newApiCredentials,
} from '../../src/security/api-key-secret.js';
import { permissionChange, requestedPermissions } from '../../src/security/permissions.js';

describe('API credentials', () => {
  it('come from HTTP Basic first, else from the body', () => {
    const basic = `Basic ${Buffer.from('key1:se:cret').toString('base64')}`;
    expect(apiCredentialsOf(basic, { api_key: 'other', api_key_secret: 'x' })).toEqual({
      key: 'key1',
      secret: 'se:cret',
    });
    expect(apiCredentialsOf(undefined, { api_key: 'k', api_key_secret: 's' })).toEqual({ key: 'k', secret: 's' });
    expect(apiCredentialsOf(undefined, { api_key: 'k' })).toBeNull();
    expect(apiCredentialsOf('Bearer abc', null)).toBeNull();
    expect(apiCredentialsOf(`Basic ${Buffer.from('nocolon').toString('base64')}`, undefined)).toBeNull();
  });

  it('keep only a hash of the secret and compare it exactly', () => {
    const { key, secret } = newApiCredentials();
    expect(key).not.toBe(secret);
    const stored = hashApiSecret(secret);
    expect(stored).not.toContain(secret);
    expect(apiSecretMatches(secret, stored)).toBe(true);
    expect(apiSecretMatches(`${secret}x`, stored)).toBe(false);
    expect(apiSecretMatches(secret, 'not hex')).toBe(false);
  });
});

describe('Kasm shapes', () => {
  it('write ids without dashes and read them with or without', () => {
    const id = '4f3bb6e4-a3a8-4ad5-a2a0-b2f9c0f6b1e2';
    expect(toKasmId(id)).toBe('4f3bb6e4a3a84ad5a2a0b2f9c0f6b1e2');
    expect(fromKasmId('4F3BB6E4A3A84AD5A2A0B2F9C0F6B1E2')).toBe(id);
    expect(fromKasmId(id)).toBe(id);
  });

  it('expire a session at the earlier of keepalive + expiration and start + time limit', () => {
    const createdAt = new Date('2026-01-01T00:00:00Z');
    const keepaliveAt = new Date('2026-01-01T01:00:00Z');
    expect(expirationOf({ createdAt, keepaliveAt, keepaliveSeconds: 600, timeLimitSeconds: 0 })).toEqual(
      new Date('2026-01-01T01:10:00Z'),
    );
    expect(expirationOf({ createdAt, keepaliveAt, keepaliveSeconds: 600, timeLimitSeconds: 1800 })).toEqual(
      new Date('2026-01-01T00:30:00Z'),
    );
    expect(expirationOf({ createdAt, keepaliveAt, keepaliveSeconds: 0, timeLimitSeconds: 0 })).toBeNull();
  });
});

describe('the reference', () => {
  it("lists a body's fields, nested ones as parent.child, without the credentials", () => {
    const fields = fieldsOf(CreateUserBody as never);
    expect(fields.map((f) => f.name)).not.toContain('api_key');
    expect(fields.find((f) => f.name === 'target_user')).toMatchObject({ type: 'object', required: true });
    expect(fields.find((f) => f.name === 'target_user.realm')?.type).toBe('local | ldap | saml | oidc');
  });
});

describe('permission panels (groups and API keys)', () => {
  it('say what a replacement adds, removes, and what is not a permission', () => {
    expect(permissionChange(['users_view', 'audit_view'], ['users_view', 'users_modify', 'fly'])).toEqual({
      unknown: ['fly'],
      added: ['users_modify', 'fly'],
      removed: ['audit_view'],
    });
  });

  it('keep the state of permissions the actor cannot tick (their boxes are disabled, so never sent)', () => {
    const actor = new Set(['users_view', 'users_modify']);
    expect(requestedPermissions(['users_view'], ['audit_view', 'users_modify'], actor)).toEqual([
      'users_view',
      'audit_view',
    ]);
    expect(requestedPermissions([], ['audit_view'], new Set(['global_admin']))).toEqual([]);
  });
});
