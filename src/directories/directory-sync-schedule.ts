// Automatic directory syncs (docs/rules.md#directory-sync): every minute app.ts asks which enabled
// LDAP directories are due (syncIntervalMinutes > 0 and the last sync older than that) and syncs
// them one after another, as the system. A failed sync counts as a sync: it is tried again one
// interval later, not every minute.
import type { Database } from '../db/client.js';
import type { DirectorySyncReport, IdentityProvider } from '../db/schema.js';
import { SYSTEM_ACTOR, type Actor } from '../security/actor.js';
import type { Permission } from '../security/permissions.js';
import type { Result } from '../security/result.js';
import type { SecretBox } from '../security/secret-box.js';
import { syncDirectory } from './directory-sync-commands.js';
import { listIdentityProviders } from './identity-providers-queries.js';

/** Who starts a scheduled sync: the system, holding only what a sync needs. */
export const SYNC_SCHEDULER_ACTOR: Actor = {
  ...SYSTEM_ACTOR,
  name: 'system:directory-sync',
  permissions: new Set<Permission>(['auth_modify']),
};

type Schedulable = Pick<IdentityProvider, 'id' | 'kind' | 'enabled' | 'config' | 'lastSyncAt'>;

/** The ids of the providers whose next automatic sync is due at `nowMs`, in the given order. */
export function syncsDue(providers: readonly Schedulable[], nowMs: number): string[] {
  return providers
    .filter((provider) => {
      if (provider.kind !== 'ldap' || !provider.enabled) return false;
      const minutes = Number((provider.config as { syncIntervalMinutes?: unknown }).syncIntervalMinutes ?? 0);
      if (!Number.isFinite(minutes) || minutes <= 0) return false;
      return provider.lastSyncAt === null || nowMs - provider.lastSyncAt.getTime() >= minutes * 60_000;
    })
    .map((provider) => provider.id);
}

/** Syncs every directory that is due, one at a time; each result as syncDirectory answers it. */
export async function runDueSyncs(
  db: Database,
  box: SecretBox,
  nowMs: number,
): Promise<Array<{ providerId: string; result: Result<DirectorySyncReport> }>> {
  const due = syncsDue(await listIdentityProviders(db), nowMs);
  const results = [];
  for (const providerId of due)
    results.push({ providerId, result: await syncDirectory(db, box, SYNC_SCHEDULER_ACTOR, providerId, nowMs) });
  return results;
}
