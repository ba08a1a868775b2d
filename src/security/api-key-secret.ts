// Developer API credentials (docs/rules.md#developer-api): a public key that names the API key, and a secret of
// 256 random bits kept only as its SHA-256 hash. A guess at such a secret is hopeless, so a
// fast hash is enough: checking a call costs a hash and one indexed lookup, not an argon2 verify.
import crypto from 'node:crypto';

export interface ApiCredentials {
  key: string;
  secret: string;
}

export function newApiCredentials(): ApiCredentials {
  return { key: crypto.randomBytes(12).toString('base64url'), secret: crypto.randomBytes(32).toString('base64url') };
}

export function hashApiSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Whether `secret` hashes to `storedHash` (compared in constant time). */
export function apiSecretMatches(secret: string, storedHash: string): boolean {
  const given = Buffer.from(hashApiSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return given.length === stored.length && crypto.timingSafeEqual(given, stored);
}

/**
 * The key and secret of a call: HTTP Basic `key:secret`, else `api_key` / `api_key_secret` in
 * the JSON body (as Kasm's clients send them). Null when neither is complete.
 */
export function apiCredentialsOf(authorization: string | undefined, body: unknown): ApiCredentials | null {
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { key: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
  }
  if (body !== null && typeof body === 'object') {
    const { api_key: key, api_key_secret: secret } = body as Record<string, unknown>;
    if (typeof key === 'string' && typeof secret === 'string' && key !== '' && secret !== '') return { key, secret };
  }
  return null;
}
