// Developer API keys (docs/rules.md#developer-api): created by an admin, each with its own permissions (the groups'
// catalogue and the same no-way-up rule), optionally read-only and expiring; and a call's authentication.
import { eq, sql } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import type { Database } from '../db/client.js';
import { apiKeyPermissions, apiKeys, type ApiKey } from '../db/schema.js';
import { apiSecretMatches, hashApiSecret, newApiCredentials, type ApiCredentials } from '../security/api-key-secret.js';
import { lackingMessage, permissionChange, permissionsLacking, type Permission } from '../security/permissions.js';
import { conflict, done, forbidden, invalid, notFound, ok, type Result, uniqueOr } from '../security/result.js';
import type { ApiKeyInput } from './api-key-validation.js';
import { permissionsOfApiKey } from './api-keys-queries.js';

const keyTarget = (apiKey: Pick<ApiKey, 'id' | 'name'>) => ({ type: 'api_key', id: apiKey.id, name: apiKey.name });
const DUPLICATE = conflict('An API key with this Name already exists (names are compared ignoring case).', {
  field: 'name',
});
const GONE = notFound('This API key no longer exists.');

async function nameTaken(db: Database, name: string, exceptId?: string): Promise<boolean> {
  const rows = await db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(sql`lower(${apiKeys.name}) = lower(${name})`);
  return rows.some((row) => row.id !== exceptId);
}

/** Creates a key with no permissions; the secret is answered once and stored only as a hash. */
export function createApiKey(
  db: Database,
  actor: Actor,
  input: ApiKeyInput,
): Promise<Result<{ apiKey: ApiKey; credentials: ApiCredentials }>> {
  const credentials = newApiCredentials();
  return uniqueOr(DUPLICATE, () =>
    db.transaction(async (tx) => {
      if (await nameTaken(tx, input.name)) return DUPLICATE;
      const [apiKey] = await tx
        .insert(apiKeys)
        .values({
          ...input,
          key: credentials.key,
          secretHash: hashApiSecret(credentials.secret),
          createdById: actor.type === 'user' ? actor.id : null,
          createdByName: actor.name,
        })
        .returning();
      await recordAudit(tx, actor, {
        action: 'api_key_created',
        target: keyTarget(apiKey!),
        changes: {
          read_only: { old: null, new: input.readOnly },
          enabled: { old: null, new: input.enabled },
          expires: { old: null, new: input.expiresAt },
        },
      });
      return ok({ apiKey: apiKey!, credentials });
    }),
  );
}

/**
 * Saves the key form. No way up on every field (docs/rules.md#permissions-and-no-way-up): turning read-only off, enabling,
 * a later or no expiry, even a new name, hand on what the key holds, so changing any field of
 * a key holding a permission the actor lacks is refused like granting that permission.
 */
export function updateApiKey(db: Database, actor: Actor, apiKey: ApiKey, input: ApiKeyInput): Promise<Result<ApiKey>> {
  return uniqueOr(DUPLICATE, () =>
    db.transaction(async (tx) => {
      const before = {
        name: apiKey.name,
        read_only: apiKey.readOnly,
        enabled: apiKey.enabled,
        expires: apiKey.expiresAt?.toISOString() ?? null,
      };
      const after = {
        name: input.name,
        read_only: input.readOnly,
        enabled: input.enabled,
        expires: input.expiresAt?.toISOString() ?? null,
      };
      const changed = (Object.keys(before) as Array<keyof typeof before>).filter((k) => before[k] !== after[k]);
      if (changed.length > 0) {
        const lacking = permissionsLacking(actor.permissions, await permissionsOfApiKey(tx, apiKey.id));
        if (lacking.length > 0) {
          const message = lackingMessage(
            `Changing ${changed.join(', ')} of the API key ${apiKey.name}, which holds it,`,
            lacking,
          );
          await recordRefusal(tx, actor, keyTarget(apiKey), message, lacking);
          return forbidden(message, lacking.length === 1 ? { lacking: lacking[0] } : {});
        }
      }
      if (await nameTaken(tx, input.name, apiKey.id)) return DUPLICATE;
      const [updated] = await tx
        .update(apiKeys)
        .set({ ...input, updatedAt: new Date() })
        .where(eq(apiKeys.id, apiKey.id))
        .returning();
      if (!updated) return GONE;
      const changes = Object.fromEntries(changed.map((k) => [k, { old: before[k], new: after[k] }]));
      if (changed.length > 0)
        await recordAudit(tx, actor, { action: 'api_key_updated', target: keyTarget(updated), changes });
      return ok(updated);
    }),
  );
}

export function deleteApiKey(db: Database, actor: Actor, apiKey: ApiKey): Promise<Result> {
  return db.transaction(async (tx) => {
    const deleted = await tx.delete(apiKeys).where(eq(apiKeys.id, apiKey.id)).returning({ id: apiKeys.id });
    if (deleted.length === 0) return GONE;
    await recordAudit(tx, actor, { action: 'api_key_deleted', target: keyTarget(apiKey) });
    return done;
  });
}

/**
 * Replaces a key's permissions. No way up (docs/rules.md#permissions-and-no-way-up): only permissions the actor holds can
 * be granted or revoked; a refusal names what is missing and is audited.
 */
export function setApiKeyPermissions(db: Database, actor: Actor, apiKey: ApiKey, wanted: string[]): Promise<Result> {
  return db.transaction(async (tx) => {
    const before = await permissionsOfApiKey(tx, apiKey.id);
    const { unknown, added, removed } = permissionChange(before, wanted);
    if (unknown.length > 0) return invalid(`Unknown permissions: ${unknown.join(', ')}.`);
    if (added.length === 0 && removed.length === 0) return done;
    const lacking = permissionsLacking(actor.permissions, [...added, ...removed]);
    if (lacking.length > 0) {
      const message = lackingMessage(`Granting or revoking permissions of the API key ${apiKey.name}`, lacking);
      await recordRefusal(tx, actor, keyTarget(apiKey), message, lacking);
      return forbidden(message, lacking.length === 1 ? { lacking: lacking[0] } : {});
    }
    await tx.delete(apiKeyPermissions).where(eq(apiKeyPermissions.apiKeyId, apiKey.id));
    if (wanted.length > 0)
      await tx
        .insert(apiKeyPermissions)
        .values([...new Set(wanted)].map((permission) => ({ apiKeyId: apiKey.id, permission })));
    await recordAudit(tx, actor, {
      action: 'api_key_permissions_changed',
      target: keyTarget(apiKey),
      changes: { permissions: { old: before, new: [...new Set(wanted)].sort() } },
      added,
      removed,
    });
    return done;
  });
}

/** The key a call authenticated with. */
export interface AuthenticatedKey {
  id: string;
  name: string;
  readOnly: boolean;
  permissions: ReadonlySet<Permission>;
}

const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Checks a call's credentials: one indexed lookup and a SHA-256. A disabled, expired or deleted
 * key fails at once (nothing is cached). Last Used is written at most once a minute.
 */
export async function authenticateApiKey(
  db: Database,
  credentials: ApiCredentials,
  now: Date,
): Promise<{ ok: true; key: AuthenticatedKey } | { ok: false; message: string }> {
  const [row] = await db
    .select({
      id: apiKeys.id,
      name: apiKeys.name,
      secretHash: apiKeys.secretHash,
      enabled: apiKeys.enabled,
      readOnly: apiKeys.readOnly,
      expiresAt: apiKeys.expiresAt,
      lastUsedAt: apiKeys.lastUsedAt,
      permissions: sql<
        string[]
      >`coalesce((select array_agg(p.permission) from ${apiKeyPermissions} p where p.api_key_id = "api_keys"."id"), '{}')`,
    })
    .from(apiKeys)
    .where(eq(apiKeys.key, credentials.key));
  if (!row || !apiSecretMatches(credentials.secret, row.secretHash))
    return { ok: false, message: 'Invalid API key or secret.' };
  if (!row.enabled) return { ok: false, message: 'This API key is disabled.' };
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime())
    return { ok: false, message: 'This API key has expired.' };
  if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, row.id));
  }
  return {
    ok: true,
    key: { id: row.id, name: row.name, readOnly: row.readOnly, permissions: new Set(row.permissions as Permission[]) },
  };
}
