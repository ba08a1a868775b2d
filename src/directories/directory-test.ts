// The admin's "Test" of a directory (docs/rules.md#realms): the service account looks a user
// name up, and the page shows what a login would map (DN, immutable id, attributes, groups).
// Nothing is saved; it unseals the bind password, so it needs auth_modify like a change.
import { recordRefusal } from '../audit/audit-log.js';
import type { Database } from '../db/client.js';
import type { IdentityProvider } from '../db/schema.js';
import type { Actor } from '../security/actor.js';
import { hasPermission, lackingMessage } from '../security/permissions.js';
import { forbidden, invalid, ok, type Result } from '../security/result.js';
import type { SecretBox } from '../security/secret-box.js';
import type { StoredLdapConfig } from './identity-providers-queries.js';
import { testConnection, type LdapResult } from './ldap-directory.js';

export async function testDirectoryLookup(
  db: Database,
  box: SecretBox,
  actor: Actor,
  provider: IdentityProvider,
  username: string,
): Promise<Result<LdapResult>> {
  if (!hasPermission(actor.permissions, 'auth_modify')) {
    const message = lackingMessage(`Testing the directory ${provider.name}`, ['auth_modify']);
    await recordRefusal(db, actor, { type: 'identity_provider', id: provider.id, name: provider.name }, message, [
      'auth_modify',
    ]);
    return forbidden(message, { lacking: 'auth_modify' });
  }
  if (provider.kind !== 'ldap') return invalid('Only an LDAP directory can be tested.');
  const name = username.trim();
  if (!name) return invalid('Give a user name to look up.', { field: 'username' });
  if (!provider.secret)
    return invalid('Give the service account password (and save) before testing.', { field: 'username' });
  const config = { ...(provider.config as unknown as StoredLdapConfig), bindPassword: box.open(provider.secret) };
  return ok(await testConnection(config, name));
}
