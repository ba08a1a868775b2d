import crypto from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Database } from './client.js';
import { appSecrets } from './schema.js';

/** A random secret generated once and kept in the database, so every instance shares it. */
export async function loadOrCreateSecret(db: Database, key: string): Promise<string> {
  await db
    .insert(appSecrets)
    .values({ key, value: crypto.randomBytes(48).toString('base64url') })
    .onConflictDoNothing();
  const [row] = await db.select({ value: appSecrets.value }).from(appSecrets).where(eq(appSecrets.key, key));
  if (!row) throw new Error(`secret ${key} could not be stored`);
  return row.value;
}
