// Developer API keys and calls for the tests: a key straight into the database (for tests about
// the calls), and a call as a script makes it.
import type { FastifyInstance } from 'fastify';
import { apiKeyPermissions, apiKeys } from '../../src/db/schema.js';
import type { DatabaseHandle } from '../../src/db/client.js';
import { hashApiSecret, newApiCredentials } from '../../src/security/api-key-secret.js';

export interface TestApiKey {
  id: string;
  key: string;
  secret: string;
  /** The Authorization header value (HTTP Basic key:secret). */
  basic: string;
}

let made = 0;

export async function insertApiKey(
  db: DatabaseHandle['db'],
  options: {
    name?: string;
    permissions: readonly string[];
    readOnly?: boolean;
    enabled?: boolean;
    expiresAt?: Date | null;
  },
): Promise<TestApiKey> {
  const { key, secret } = newApiCredentials();
  const [row] = await db
    .insert(apiKeys)
    .values({
      name: options.name ?? `test key ${++made}-${key}`,
      key,
      secretHash: hashApiSecret(secret),
      readOnly: options.readOnly ?? false,
      enabled: options.enabled ?? true,
      expiresAt: options.expiresAt ?? null,
    })
    .returning();
  if (options.permissions.length > 0)
    await db
      .insert(apiKeyPermissions)
      .values(options.permissions.map((permission) => ({ apiKeyId: row!.id, permission })));
  return { id: row!.id, key, secret, basic: `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}` };
}

/** A call with the key and secret in the JSON body, as Kasm's clients send them. */
export function callApi(
  app: FastifyInstance,
  key: Pick<TestApiKey, 'key' | 'secret'>,
  call: string,
  body: Record<string, unknown> = {},
) {
  return app.inject({
    method: 'POST',
    url: `/api/public/${call}`,
    payload: { api_key: key.key, api_key_secret: key.secret, ...body },
  });
}
