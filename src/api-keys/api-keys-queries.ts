// Developer API keys (docs/rules.md#developer-api): the reads.
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { apiKeyPermissions, apiKeys, type ApiKey } from '../db/schema.js';
import { PERMISSIONS } from '../security/permissions.js';

export function listApiKeys(db: Database): Promise<ApiKey[]> {
  return db
    .select()
    .from(apiKeys)
    .orderBy(sql`lower(${apiKeys.name})`);
}

export async function findApiKey(db: Database, id: string): Promise<ApiKey | undefined> {
  const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
  return row;
}

export async function permissionsOfApiKey(db: Database, id: string): Promise<string[]> {
  const rows = await db
    .select({ permission: apiKeyPermissions.permission })
    .from(apiKeyPermissions)
    .where(eq(apiKeyPermissions.apiKeyId, id));
  return PERMISSIONS.filter((p) => rows.some((row) => row.permission === p));
}
