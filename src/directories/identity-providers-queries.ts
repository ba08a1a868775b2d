// The identity providers (docs/rules.md#realms): directories and, later, OIDC/SAML providers.
import { asc, eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { identityProviders, type IdentityProvider } from '../db/schema.js';
import type { SecretBox } from '../security/secret-box.js';
import type { LdapConfig } from './ldap-config.js';

/** The stored, non-secret part of an LDAP directory's configuration. */
export type StoredLdapConfig = Omit<LdapConfig, 'bindPassword'>;

/** Every provider in the order they are tried (then by name, so the order is stable). */
export function listIdentityProviders(db: Database): Promise<IdentityProvider[]> {
  return db
    .select()
    .from(identityProviders)
    .orderBy(asc(identityProviders.sortOrder), asc(identityProviders.name), asc(identityProviders.id));
}

export async function findIdentityProvider(db: Database, id: string): Promise<IdentityProvider | null> {
  const [row] = await db.select().from(identityProviders).where(eq(identityProviders.id, id));
  return row ?? null;
}

/** An enabled LDAP directory ready for a login: its full configuration, the password unsealed. */
export interface LdapDirectory {
  id: string;
  name: string;
  config: LdapConfig;
}

/** The enabled LDAP directories, in order, with their bind passwords unsealed (for login only). */
export async function enabledLdapDirectories(db: Database, box: SecretBox): Promise<LdapDirectory[]> {
  const rows = await listIdentityProviders(db);
  return (
    rows
      // A row whose configuration is not a directory's (never saved through the form) takes no logins.
      .filter((row) => row.kind === 'ldap' && row.enabled && Array.isArray((row.config as { urls?: unknown }).urls))
      .map((row) => ({
        id: row.id,
        name: row.name,
        config: {
          ...(row.config as unknown as StoredLdapConfig),
          bindPassword: row.secret ? box.open(row.secret) : '',
        },
      }))
  );
}
