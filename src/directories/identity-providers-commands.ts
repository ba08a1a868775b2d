// Adding, changing, enabling and deleting identity providers (docs/rules.md#realms). Only holders
// of auth_modify may; a refusal is audited. The bind password is write-only: it is stored sealed
// with the server key and the audit log says only whether it was set, replaced or cleared.
import { and, eq, sql } from 'drizzle-orm';
import { recordAudit, recordRefusal } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import { identityProviders, type IdentityProvider } from '../db/schema.js';
import type { Actor } from '../security/actor.js';
import { hasPermission, lackingMessage } from '../security/permissions.js';
import { conflict, done, forbidden, invalid, notFound, ok, type Result, uniqueOr } from '../security/result.js';
import type { SecretBox } from '../security/secret-box.js';
import { validateLdapConfig, type LdapConfig } from './ldap-config.js';
import type { StoredLdapConfig } from './identity-providers-queries.js';

const target = (p: Pick<IdentityProvider, 'id' | 'name'>) => ({ type: 'identity_provider', id: p.id, name: p.name });
const DUPLICATE = conflict('An identity provider with this Name already exists (names are compared ignoring case).', {
  field: 'name',
});
const GONE = notFound('This identity provider no longer exists.');
const STALE = conflict('This identity provider was changed by someone else since the form was opened: reload it.', {
  reason: 'stale',
});

/** What the directory form submits. `bindPassword`: '' keeps the stored one; `clearPassword` removes it. */
export interface LdapProviderInput {
  name: string;
  sortOrder: number;
  config: StoredLdapConfig;
  bindPassword: string;
  clearPassword?: boolean;
}

async function refused(tx: Database, actor: Actor, what: string, on: AuditTarget): Promise<Result<never>> {
  const message = lackingMessage(what, ['auth_modify']);
  await recordRefusal(tx, actor, on, message, ['auth_modify']);
  return forbidden(message, { lacking: 'auth_modify' });
}
type AuditTarget = { type: string; id: string | null; name: string };

async function nameTaken(db: Database, name: string, exceptId?: string): Promise<boolean> {
  const rows = await db
    .select({ id: identityProviders.id })
    .from(identityProviders)
    .where(sql`lower(${identityProviders.name}) = lower(${name})`);
  return rows.some((row) => row.id !== exceptId);
}

function checked(input: LdapProviderInput, password: string): Result<void> {
  if (!input.name.trim()) return invalid('A name is required.', { field: 'name' });
  if (!Number.isInteger(input.sortOrder) || input.sortOrder < 0 || input.sortOrder > 1_000_000)
    return invalid('The order is a whole number from 0 to 1000000.', { field: 'sortOrder' });
  const full: LdapConfig = { ...input.config, bindPassword: password };
  const errors = validateLdapConfig(full);
  const fields = Object.entries(errors) as [string, string][];
  if (fields.length > 0) {
    const [field, message] = fields[0]!;
    return invalid(message, { field, fields: Object.fromEntries(fields) });
  }
  return done;
}

/** Only the non-secret fields, whatever else the caller's object carries. */
function storedConfig(config: StoredLdapConfig): Record<string, unknown> {
  const { bindPassword: _dropped, ...rest } = config as StoredLdapConfig & { bindPassword?: unknown };
  void _dropped;
  return rest;
}

/** Creates a disabled LDAP directory. */
export function createLdapProvider(
  db: Database,
  box: SecretBox,
  actor: Actor,
  input: LdapProviderInput,
): Promise<Result<IdentityProvider>> {
  return uniqueOr(DUPLICATE, () =>
    db.transaction(async (tx) => {
      if (!hasPermission(actor.permissions, 'auth_modify'))
        return refused(tx, actor, `Adding the directory ${input.name}`, {
          type: 'identity_provider',
          id: null,
          name: input.name,
        });
      const valid = checked(input, input.bindPassword);
      if (!valid.ok) return valid;
      if (await nameTaken(tx, input.name)) return DUPLICATE;
      const [row] = await tx
        .insert(identityProviders)
        .values({
          kind: 'ldap',
          name: input.name,
          sortOrder: input.sortOrder,
          config: storedConfig(input.config),
          secret: box.seal(input.bindPassword),
        })
        .returning();
      await recordAudit(tx, actor, {
        action: 'identity_provider_created',
        target: target(row!),
        kind: 'ldap',
        password: 'set',
        changes: { name: { old: null, new: input.name }, enabled: { old: null, new: false } },
      });
      return ok(row!);
    }),
  );
}

/** Saves the directory form, based on `version`; the password is write-only. */
export function updateLdapProvider(
  db: Database,
  box: SecretBox,
  actor: Actor,
  provider: IdentityProvider,
  version: number,
  input: LdapProviderInput,
): Promise<Result<IdentityProvider>> {
  return uniqueOr(DUPLICATE, () =>
    db.transaction(async (tx) => {
      if (!hasPermission(actor.permissions, 'auth_modify'))
        return refused(tx, actor, `Changing the directory ${provider.name}`, target(provider));
      const [current] = await tx.select().from(identityProviders).where(eq(identityProviders.id, provider.id));
      if (!current) return GONE;
      // An OpenID Connect or SAML provider has a configuration of another shape.
      if (current.kind !== 'ldap') return invalid(`${current.name} is not an LDAP directory.`, { field: 'kind' });
      if (current.version !== version) return STALE;
      let secret = current.secret;
      let password: 'kept' | 'replaced' | 'cleared' | 'set' = 'kept';
      if (input.clearPassword) {
        secret = null;
        password = 'cleared';
      } else if (input.bindPassword) {
        password = current.secret ? 'replaced' : 'set';
        secret = box.seal(input.bindPassword);
      }
      // A cleared password leaves the directory unusable: allowed only while it is disabled.
      const effective = input.clearPassword
        ? ''
        : input.bindPassword || (current.secret ? box.open(current.secret) : '');
      const valid = input.clearPassword && !current.enabled ? checked(input, 'cleared') : checked(input, effective);
      if (!valid.ok) return valid;
      if (await nameTaken(tx, input.name, current.id)) return DUPLICATE;
      const config = storedConfig(input.config);
      const [updated] = await tx
        .update(identityProviders)
        .set({
          name: input.name,
          sortOrder: input.sortOrder,
          config,
          secret,
          version: sql`${identityProviders.version} + 1`,
          updatedAt: new Date(),
        })
        .where(and(eq(identityProviders.id, current.id), eq(identityProviders.version, version)))
        .returning();
      if (!updated) return STALE;
      const changes: Record<string, { old: unknown; new: unknown }> = {};
      if (current.name !== input.name) changes.name = { old: current.name, new: input.name };
      if (current.sortOrder !== input.sortOrder) changes.sort_order = { old: current.sortOrder, new: input.sortOrder };
      for (const key of new Set([...Object.keys(current.config), ...Object.keys(config)]))
        if (JSON.stringify(current.config[key]) !== JSON.stringify(config[key]))
          changes[key] = { old: current.config[key] ?? null, new: config[key] ?? null };
      if (Object.keys(changes).length > 0 || password !== 'kept')
        await recordAudit(tx, actor, {
          action: 'identity_provider_updated',
          target: target(updated),
          changes,
          ...(password !== 'kept' ? { password } : {}),
        });
      return ok(updated);
    }),
  );
}

export function setProviderEnabled(
  db: Database,
  actor: Actor,
  provider: IdentityProvider,
  version: number,
  enabled: boolean,
): Promise<Result<IdentityProvider>> {
  return db.transaction(async (tx) => {
    if (!hasPermission(actor.permissions, 'auth_modify'))
      return refused(
        tx,
        actor,
        `${enabled ? 'Enabling' : 'Disabling'} the directory ${provider.name}`,
        target(provider),
      );
    const [current] = await tx.select().from(identityProviders).where(eq(identityProviders.id, provider.id));
    if (!current) return GONE;
    if (current.version !== version) return STALE;
    if (enabled && current.kind === 'ldap' && !current.secret)
      return invalid('Give the service account password before enabling this directory.', { field: 'bindPassword' });
    if (current.enabled === enabled) return ok(current);
    const [updated] = await tx
      .update(identityProviders)
      .set({ enabled, version: sql`${identityProviders.version} + 1`, updatedAt: new Date() })
      .where(and(eq(identityProviders.id, current.id), eq(identityProviders.version, version)))
      .returning();
    if (!updated) return STALE;
    await recordAudit(tx, actor, {
      action: 'identity_provider_updated',
      target: target(updated),
      changes: { enabled: { old: current.enabled, new: enabled } },
    });
    return ok(updated);
  });
}

export function deleteProvider(
  db: Database,
  actor: Actor,
  provider: IdentityProvider,
  version: number,
): Promise<Result> {
  return db.transaction(async (tx) => {
    if (!hasPermission(actor.permissions, 'auth_modify'))
      return refused(tx, actor, `Deleting the directory ${provider.name}`, target(provider));
    const [current] = await tx.select().from(identityProviders).where(eq(identityProviders.id, provider.id));
    if (!current) return GONE;
    if (current.version !== version) return STALE;
    await tx.delete(identityProviders).where(eq(identityProviders.id, current.id));
    await recordAudit(tx, actor, { action: 'identity_provider_deleted', target: target(current), kind: current.kind });
    return done;
  });
}
