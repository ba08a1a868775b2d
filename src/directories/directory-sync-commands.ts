// A directory sync (docs/rules.md#directory-sync): read every entry the user filter admits, then
// in one transaction update the linked users' attributes, disable the users whose entry is gone
// (or no longer matches), and re-enable those a sync disabled whose entry is back. It never
// deletes. The directory is read first, whole (a paged search), so a directory that stops
// answering half-way changes nothing; the writes take a PostgreSQL advisory lock, so when several
// Roster processes share a database only one applies a sync of a directory at a time.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import { executedRows } from '../db/sql-helpers.js';
import { identityProviders, userIdentities, users, type DirectorySyncReport } from '../db/schema.js';
import { providerActor, type Actor } from '../security/actor.js';
import { hasPermission, lackingMessage } from '../security/permissions.js';
import { conflict, forbidden, invalid, notFound, ok, type Result } from '../security/result.js';
import type { SecretBox } from '../security/secret-box.js';
import { endUserSessions } from '../sessions/sessions-commands.js';
import { applyGroupMappings } from '../groups/group-mappings-commands.js';
import { directoryAttributeChanges } from './directory-attributes.js';
import { findIdentityProvider, type StoredLdapConfig } from './identity-providers-queries.js';
import { listDirectoryUsers, type LdapUser } from './ldap-directory.js';

const BUSY = conflict('A sync of this directory is already running in another Roster process; try again shortly.', {
  reason: 'sync_running',
});

/** Runs one sync of an LDAP directory and records its report on the provider. */
export async function syncDirectory(
  db: Database,
  box: SecretBox,
  actor: Actor,
  providerId: string,
  nowMs: number,
): Promise<Result<DirectorySyncReport>> {
  const provider = await findIdentityProvider(db, providerId);
  if (!provider) return notFound('This identity provider no longer exists.');
  const target = { type: 'identity_provider', id: provider.id, name: provider.name };
  if (!hasPermission(actor.permissions, 'auth_modify')) {
    const message = lackingMessage(`Syncing ${provider.name}`, ['auth_modify']);
    await recordRefusal(db, actor, target, message, ['auth_modify']);
    return forbidden(message, { lacking: 'auth_modify' });
  }
  if (provider.kind !== 'ldap') return invalid('Only an LDAP directory can be synced.');
  const config = {
    ...(provider.config as unknown as StoredLdapConfig),
    bindPassword: provider.secret ? box.open(provider.secret) : '',
  };

  const listing = await listDirectoryUsers(config);
  const now = new Date(nowMs);
  if (!listing.ok) {
    const report: DirectorySyncReport = {
      outcome: 'failed',
      seen: 0,
      updated: 0,
      disabled: 0,
      enabled: 0,
      errors: 1,
      message: listing.message,
    };
    await db.transaction(async (tx) => {
      await saveReport(tx, provider.id, report, now);
      await recordAudit(tx, actor, {
        action: 'directory_sync_failed',
        outcome: 'failure',
        target,
        reason: listing.message,
      });
    });
    return ok(report);
  }

  const entries = new Map<string, LdapUser>(listing.users.map((entry) => [entry.immutableId, entry]));
  return db.transaction(async (tx) => {
    const [lock] = executedRows<{ locked: boolean }>(
      await tx.execute(
        sql`select pg_try_advisory_xact_lock(hashtext('roster:directory-sync'), hashtext(${provider.id})) as locked`,
      ),
    );
    if (!lock?.locked) return BUSY;
    const by = providerActor(provider);
    const report: DirectorySyncReport = {
      outcome: 'completed',
      seen: listing.users.length,
      updated: 0,
      disabled: 0,
      enabled: 0,
      errors: listing.skipped,
      message: listing.skipped > 0 ? `${listing.skipped} entries have no ${config.attributes.immutableId}.` : '',
    };
    const linked = await tx
      .select({ user: users, identity: userIdentities })
      .from(userIdentities)
      .innerJoin(users, eq(users.id, userIdentities.userId))
      .where(eq(userIdentities.providerId, provider.id));
    for (const { user, identity } of linked) {
      const userTarget = { type: 'user', id: user.id, name: user.username };
      const entry = entries.get(identity.subject);
      if (!entry) {
        if (user.disabled) continue;
        await tx
          .update(users)
          .set({ disabled: true, version: sql`${users.version} + 1`, updatedAt: now })
          .where(eq(users.id, user.id));
        await tx.update(userIdentities).set({ disabledBySyncAt: now }).where(eq(userIdentities.id, identity.id));
        await endUserSessions(tx, user.id);
        await recordAudit(tx, by, {
          action: 'user_updated',
          target: userTarget,
          changes: { disabled: { old: false, new: true } },
          reason: 'directory entry gone or no longer matching the user filter',
        });
        report.disabled++;
        continue;
      }
      const { set, changes } = directoryAttributeChanges(user, entry);
      const reEnable = user.disabled && identity.disabledBySyncAt !== null;
      if (reEnable) changes.disabled = { old: 'true', new: 'false' };
      if (Object.keys(changes).length > 0) {
        await tx
          .update(users)
          .set({ ...set, ...(reEnable ? { disabled: false } : {}), version: sql`${users.version} + 1`, updatedAt: now })
          .where(eq(users.id, user.id));
        await recordAudit(tx, by, {
          action: 'user_updated',
          target: userTarget,
          changes,
          reason: reEnable ? 'directory entry is back' : 'directory sync',
        });
        if (reEnable) report.enabled++;
        else report.updated++;
      }
      await tx
        .update(userIdentities)
        .set({ externalName: entry.dn, lastSyncAt: now, disabledBySyncAt: null })
        .where(and(eq(userIdentities.id, identity.id)));
      await applyGroupMappings(tx, provider, user, entry.groups);
    }
    await saveReport(tx, provider.id, report, now);
    await recordAudit(tx, actor, {
      action: 'directory_synced',
      target,
      seen: report.seen,
      updated: report.updated,
      disabled: report.disabled,
      enabled: report.enabled,
      errors: report.errors,
    });
    return ok(report);
  });
}

function saveReport(tx: Database, providerId: string, report: DirectorySyncReport, now: Date) {
  return tx
    .update(identityProviders)
    .set({ lastSync: report, lastSyncAt: now })
    .where(eq(identityProviders.id, providerId));
}
