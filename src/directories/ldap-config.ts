/**
 * One LDAP directory's configuration, its validator and the presets an admin starts from.
 * Pure: no I/O here (the connection lives in ldap-directory.ts).
 */

export type SearchScope = 'sub' | 'one';
export type NestedGroups = 'none' | 'ad-in-chain' | 'recursive';

/** Where a user's groups come from: the entry's memberOf, or a search for groups naming the user. */
export type GroupSource = 'memberOf' | { base: string; filter: string };

export interface LdapAttributeNames {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  phone: string;
  organization: string;
  /** entryUUID (OpenLDAP, FreeIPA, lldap) or objectGUID (Active Directory, binary). */
  immutableId: string;
}

export interface LdapConfig {
  /** Tried in order; ldap:// or ldaps://. */
  urls: string[];
  /** Upgrade ldap:// with StartTLS; a failed upgrade is an error, never a plaintext fallback. */
  startTls: boolean;
  /** Allow ldap:// without StartTLS to a host that is not loopback. */
  allowUnencrypted: boolean;
  /** PEM of the CA that signed the directory's certificate; null uses the system CAs. */
  caCertificate: string | null;
  bindDn: string;
  bindPassword: string;
  userSearchBase: string;
  userSearchScope: SearchScope;
  /** Must contain {username}; the typed name is RFC 4515-escaped before it is put there. */
  userFilter: string;
  attributes: LdapAttributeNames;
  groupSource: GroupSource;
  nestedGroups: NestedGroups;
  /** `alice@corp.example` picks the directory whose loginDomains contain `corp.example`. */
  loginDomains: string[];
  connectTimeoutMs: number;
  operationTimeoutMs: number;
  /** A first login of a directory user Roster does not know creates them (realm ldap); else the generic failure. */
  createUsersAtFirstLogin: boolean;
  /** Minutes between automatic directory syncs; 0 = only "Sync now". */
  syncIntervalMinutes: number;
}

/** How deep a recursive group walk goes at most (cycles are stopped by a visited set). */
export const MAX_GROUP_DEPTH = 8;

export type LdapConfigErrors = Partial<Record<keyof LdapConfig | `attributes.${keyof LdapAttributeNames}`, string>>;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', '::1', 'localhost']);

function parseLdapUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') return null;
    if (!url.hostname) return null;
    return url;
  } catch {
    return null;
  }
}

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ATTRIBUTE = /^([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)$/;

/** Checks one configuration; an empty object means valid. */
export function validateLdapConfig(config: LdapConfig): LdapConfigErrors {
  const errors: LdapConfigErrors = {};
  if (config.urls.length === 0) errors.urls = 'Give at least one ldap:// or ldaps:// URL.';
  for (const raw of config.urls) {
    const url = parseLdapUrl(raw);
    if (!url) {
      errors.urls = `"${raw}" is not an ldap:// or ldaps:// URL.`;
      break;
    }
    if (url.protocol === 'ldap:' && !config.startTls && !config.allowUnencrypted && !isLoopbackHost(url.hostname)) {
      errors.urls = `${raw} would send passwords unencrypted: use ldaps://, turn on StartTLS, or allow unencrypted connections explicitly.`;
      break;
    }
    if (url.protocol === 'ldaps:' && config.startTls) {
      errors.startTls = 'StartTLS is for ldap:// URLs; ldaps:// is already encrypted.';
    }
  }
  if (
    config.caCertificate !== null &&
    !/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/.test(config.caCertificate)
  )
    errors.caCertificate = 'Paste the CA certificate in PEM form (-----BEGIN CERTIFICATE-----).';
  if (!config.bindDn.trim()) errors.bindDn = 'A service account DN is required (anonymous search is not used).';
  if (!config.bindPassword) errors.bindPassword = 'The service account password is required.';
  if (!config.userSearchBase.trim()) errors.userSearchBase = 'A search base is required.';
  if (config.userSearchScope !== 'sub' && config.userSearchScope !== 'one')
    errors.userSearchScope = 'Choose sub or one.';
  if (!config.userFilter.includes('{username}')) errors.userFilter = 'The filter must contain {username}.';
  else if (!balancedParentheses(config.userFilter)) errors.userFilter = 'The filter has unbalanced parentheses.';
  for (const [key, value] of Object.entries(config.attributes) as [keyof LdapAttributeNames, string][]) {
    const optional = key === 'phone' || key === 'organization' || key === 'firstName' || key === 'lastName';
    if (!value && optional) continue;
    if (!ATTRIBUTE.test(value)) errors[`attributes.${key}`] = `"${value}" is not an attribute name.`;
  }
  if (config.groupSource !== 'memberOf') {
    const { base, filter } = config.groupSource;
    if (!base.trim()) errors.groupSource = 'A group search base is required.';
    else if (!filter.includes('{dn}') && !filter.includes('{username}'))
      errors.groupSource = 'The group filter must contain {dn} or {username}.';
    else if (!balancedParentheses(filter)) errors.groupSource = 'The group filter has unbalanced parentheses.';
  }
  if (!['none', 'ad-in-chain', 'recursive'].includes(config.nestedGroups))
    errors.nestedGroups = 'Choose none, ad-in-chain or recursive.';
  if (config.nestedGroups === 'ad-in-chain' && config.groupSource === 'memberOf')
    errors.nestedGroups =
      "Active Directory's in-chain rule needs a group search (member:1.2.840.113556.1.4.1941:={dn}).";
  for (const domain of config.loginDomains)
    if (!DOMAIN.test(domain)) {
      errors.loginDomains = `"${domain}" is not a domain (lower case, like corp.example).`;
      break;
    }
  if (!Number.isInteger(config.connectTimeoutMs) || config.connectTimeoutMs < 100 || config.connectTimeoutMs > 60_000)
    errors.connectTimeoutMs = 'Between 100 and 60000 ms.';
  if (
    !Number.isInteger(config.operationTimeoutMs) ||
    config.operationTimeoutMs < 100 ||
    config.operationTimeoutMs > 60_000
  )
    errors.operationTimeoutMs = 'Between 100 and 60000 ms.';
  if (
    !Number.isInteger(config.syncIntervalMinutes) ||
    (config.syncIntervalMinutes !== 0 && (config.syncIntervalMinutes < 5 || config.syncIntervalMinutes > 10_080))
  )
    errors.syncIntervalMinutes = '0 (off), or between 5 and 10080 minutes (a week).';
  return errors;
}

function balancedParentheses(filter: string): boolean {
  let depth = 0;
  for (const c of filter) {
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

export type LdapPresetName = 'active-directory' | 'openldap' | 'freeipa' | 'lldap';

/** What each kind of directory usually needs; the admin adds URLs, bases, account and domains. */
export const LDAP_PRESETS: Record<
  LdapPresetName,
  Omit<
    LdapConfig,
    | 'urls'
    | 'bindDn'
    | 'bindPassword'
    | 'userSearchBase'
    | 'loginDomains'
    | 'caCertificate'
    | 'createUsersAtFirstLogin'
    | 'syncIntervalMinutes'
  >
> = {
  'active-directory': {
    startTls: false,
    allowUnencrypted: false,
    userSearchScope: 'sub',
    userFilter: '(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))',
    attributes: {
      username: 'sAMAccountName',
      email: 'mail',
      firstName: 'givenName',
      lastName: 'sn',
      phone: 'telephoneNumber',
      organization: 'company',
      immutableId: 'objectGUID',
    },
    // memberOf on AD omits the primary group (Domain Users) and nested groups; the in-chain rule finds nested ones.
    groupSource: { base: '', filter: '(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))' },
    nestedGroups: 'ad-in-chain',
    connectTimeoutMs: 5000,
    operationTimeoutMs: 5000,
  },
  openldap: {
    startTls: true,
    allowUnencrypted: false,
    userSearchScope: 'sub',
    userFilter: '(&(objectClass=inetOrgPerson)(uid={username}))',
    attributes: {
      username: 'uid',
      email: 'mail',
      firstName: 'givenName',
      lastName: 'sn',
      phone: 'telephoneNumber',
      organization: 'o',
      immutableId: 'entryUUID',
    },
    groupSource: 'memberOf',
    nestedGroups: 'recursive',
    connectTimeoutMs: 5000,
    operationTimeoutMs: 5000,
  },
  freeipa: {
    startTls: true,
    allowUnencrypted: false,
    userSearchScope: 'one',
    userFilter: '(&(objectClass=person)(uid={username}))',
    attributes: {
      username: 'uid',
      email: 'mail',
      firstName: 'givenName',
      lastName: 'sn',
      phone: 'telephoneNumber',
      organization: 'o',
      immutableId: 'ipaUniqueID',
    },
    // FreeIPA's memberOf already includes indirect memberships.
    groupSource: 'memberOf',
    nestedGroups: 'none',
    connectTimeoutMs: 5000,
    operationTimeoutMs: 5000,
  },
  lldap: {
    startTls: false,
    allowUnencrypted: false,
    userSearchScope: 'one',
    userFilter: '(&(objectClass=person)(uid={username}))',
    attributes: {
      username: 'uid',
      email: 'mail',
      firstName: 'givenName',
      lastName: 'sn',
      phone: '',
      organization: '',
      immutableId: 'entryUUID',
    },
    groupSource: 'memberOf',
    nestedGroups: 'none',
    connectTimeoutMs: 5000,
    operationTimeoutMs: 5000,
  },
};

/** Which directory a typed login name goes to. */
export type LoginTarget =
  | { kind: 'directory'; index: number; username: string }
  | { kind: 'try-in-order'; indexes: number[]; username: string }
  | { kind: 'none' };

/**
 * `alice@corp.example` goes to the directory listing corp.example (bare name alice); a bare name is
 * tried against every directory in order. A domain no directory lists is no directory login.
 */
export function directoryForLogin(
  typed: string,
  directories: readonly Pick<LdapConfig, 'loginDomains'>[],
): LoginTarget {
  const name = typed.trim();
  if (!name) return { kind: 'none' };
  const at = name.lastIndexOf('@');
  if (at > 0 && at < name.length - 1) {
    const domain = name.slice(at + 1).toLowerCase();
    const index = directories.findIndex((d) => d.loginDomains.some((ld) => ld.toLowerCase() === domain));
    if (index >= 0) return { kind: 'directory', index, username: name.slice(0, at) };
    return { kind: 'none' };
  }
  if (at >= 0) return { kind: 'none' };
  return { kind: 'try-in-order', indexes: directories.map((_, i) => i), username: name };
}
