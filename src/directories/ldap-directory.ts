/**
 * Talking to one LDAP directory (ldapts): search with the service account, then bind as the one
 * entry found. TLS is always verified against the configured CA with a hostname check; every
 * connection has connect and operation timeouts and is always closed.
 */
import net from 'node:net';
import { Client, Filter, InvalidCredentialsError, type Entry } from 'ldapts';
import { MAX_GROUP_DEPTH, type LdapConfig } from './ldap-config.js';

export type LdapFailureKind =
  | 'invalid_credentials'
  | 'not_found'
  | 'ambiguous'
  | 'unavailable'
  | 'tls'
  | 'refused_empty_password'
  | 'refused_before_bind';

export interface LdapUser {
  immutableId: string;
  dn: string;
  attributes: {
    username: string | null;
    email: string | null;
    firstName: string | null;
    lastName: string | null;
    phone: string | null;
    organization: string | null;
  };
  /** DNs of the entry's groups; null when the directory answered none at all (an error, memberOf missing). */
  groups: string[] | null;
}

export type LdapResult =
  | { ok: true; user: LdapUser }
  /** immutableId: the entry the name found, when the failure came after the search (a wrong password). */
  | { ok: false; kind: LdapFailureKind; message: string; immutableId?: string };

/**
 * Called with the entry's immutable id after the search and before the bind: false stops the
 * login there (a locked-out account's password is never tried against the directory).
 */
export type BeforeBind = (immutableId: string) => Promise<boolean>;

class LdapFailure extends Error {
  constructor(
    readonly kind: LdapFailureKind,
    message: string,
    readonly immutableId?: string,
  ) {
    super(message);
  }
}

/** Puts the escaped value in every {name} placeholder of a filter template. */
export function fillFilter(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? Filter.escape(values[name] as string) : whole,
  );
}

/** Active Directory's binary objectGUID in its canonical (mixed-endian) string form. */
export function guidToString(bytes: Buffer): string {
  if (bytes.length !== 16) throw new Error('objectGUID is not 16 bytes');
  const hex = (b: Buffer) => b.toString('hex');
  const le = (start: number, end: number) => hex(Buffer.from(bytes.subarray(start, end)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(bytes.subarray(8, 10))}-${hex(bytes.subarray(10, 16))}`;
}

/** The URL's host without IPv6 brackets (as TLS name checks want it). */
function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

function tlsOptions(config: LdapConfig, host: string) {
  return {
    ...(config.caCertificate ? { ca: [config.caCertificate] } : {}),
    rejectUnauthorized: true,
    // SNI takes no IP address; the hostname check still compares the IP with the certificate's SAN.
    ...(net.isIP(host) ? {} : { servername: host }),
    minVersion: 'TLSv1.2' as const,
  };
}

/** Never let the bind password reach a message. */
function redact(config: LdapConfig, text: string): string {
  return config.bindPassword ? text.split(config.bindPassword).join('[password]') : text;
}

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME|SSL|TLS/i;

function classify(config: LdapConfig, url: string, error: unknown): LdapFailure {
  if (error instanceof LdapFailure) return error;
  const e = error as { code?: string | number; message?: string };
  const text = `${String(e.code ?? '')} ${e.message ?? String(error)}`;
  if (TLS_CODES.test(text)) return new LdapFailure('tls', redact(config, `TLS with ${url} failed: ${e.message}`));
  return new LdapFailure('unavailable', redact(config, `${url} did not answer: ${e.message ?? String(error)}`));
}

/** A connected client (TLS established, service account bound) on the first URL that answers. */
async function connect(config: LdapConfig): Promise<{ client: Client; url: string }> {
  let last: LdapFailure = new LdapFailure('unavailable', 'No directory URL is configured.');
  for (const url of config.urls) {
    const host = hostOf(url);
    const client = new Client({
      url,
      connectTimeout: config.connectTimeoutMs,
      timeout: config.operationTimeoutMs,
      // ldapts opens TLS right away when given tlsOptions: only for ldaps://.
      ...(url.startsWith('ldaps:') ? { tlsOptions: tlsOptions(config, host) } : {}),
      strictDN: true,
    });
    try {
      if (config.startTls && url.startsWith('ldap:')) {
        try {
          await client.startTLS({ ...tlsOptions(config, host), host }); // host: for the hostname check
        } catch (error) {
          const failure = classify(config, url, error);
          throw failure.kind === 'tls'
            ? failure
            : new LdapFailure('tls', redact(config, `StartTLS with ${url} failed: ${(error as Error).message}`));
        }
      }
      try {
        await client.bind(config.bindDn, config.bindPassword);
      } catch (error) {
        if (error instanceof InvalidCredentialsError)
          throw new LdapFailure(
            'unavailable',
            `The service account ${config.bindDn} was refused by ${url} (invalid credentials).`,
          );
        throw error;
      }
      return { client, url };
    } catch (error) {
      await close(client);
      last = classify(config, url, error);
      // A TLS failure or a refused service account is a configuration problem: do not hide it behind the next URL.
      if (last.kind === 'tls' || /service account/.test(last.message)) throw last;
    }
  }
  throw last;
}

async function close(client: Client): Promise<void> {
  try {
    await client.unbind();
  } catch {
    // already closed, or the directory stopped answering
  }
}

function first(entry: Entry, attribute: string): string | null {
  if (!attribute) return null;
  const value = entry[attribute];
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return null;
  return Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
}

function all(entry: Entry, attribute: string): string[] {
  const value = entry[attribute];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function immutableIdOf(config: LdapConfig, entry: Entry): string {
  const name = config.attributes.immutableId;
  const raw = entry[name];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined) throw new LdapFailure('not_found', `The entry ${entry.dn} has no ${name} (the immutable id).`);
  if (name.toLowerCase() === 'objectguid') {
    if (!Buffer.isBuffer(v)) throw new LdapFailure('not_found', `${name} of ${entry.dn} is not binary.`);
    return guidToString(v);
  }
  return (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)).toLowerCase();
}

/** The one entry the filter finds for this username, or a not_found/ambiguous failure. */
async function findUser(client: Client, config: LdapConfig, username: string): Promise<Entry> {
  const a = config.attributes;
  const attributes = [
    a.username,
    a.email,
    a.firstName,
    a.lastName,
    a.phone,
    a.organization,
    a.immutableId,
    'memberOf',
  ].filter((n) => n);
  const { searchEntries } = await client
    .search(config.userSearchBase, {
      scope: config.userSearchScope,
      filter: fillFilter(config.userFilter, { username }),
      attributes,
      explicitBufferAttributes: a.immutableId.toLowerCase() === 'objectguid' ? [a.immutableId] : [],
      sizeLimit: 2,
      timeLimit: Math.ceil(config.operationTimeoutMs / 1000),
    })
    .catch((error: unknown) => {
      if ((error as Error).name === 'SizeLimitExceededError')
        throw new LdapFailure(
          'ambiguous',
          `More than one entry under ${config.userSearchBase} matches the filter for this name.`,
        );
      throw error;
    });
  if (searchEntries.length === 0)
    throw new LdapFailure('not_found', `No entry under ${config.userSearchBase} matches the filter for this name.`);
  if (searchEntries.length > 1)
    throw new LdapFailure(
      'ambiguous',
      `${searchEntries.length} entries under ${config.userSearchBase} match the filter for this name; exactly one is required.`,
    );
  return searchEntries[0] as Entry;
}

async function groupsOf(client: Client, config: LdapConfig, entry: Entry, username: string): Promise<string[] | null> {
  // memberOf missing is "the directory said nothing", not "in no group": mappings then keep what they made.
  if (config.groupSource === 'memberOf' && entry.memberOf === undefined) return null;
  try {
    return await walkGroups(client, config, entry, username);
  } catch {
    return null; // the search for groups failed: the login or sync goes on, memberships kept
  }
}

async function walkGroups(client: Client, config: LdapConfig, entry: Entry, username: string): Promise<string[]> {
  const direct = async (dn: string, name: string, isUser: boolean): Promise<string[]> => {
    if (config.groupSource === 'memberOf') {
      if (isUser) return all(entry, 'memberOf');
      const { searchEntries } = await client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['memberOf'],
      });
      return searchEntries.flatMap((e) => all(e, 'memberOf'));
    }
    const { base, filter } = config.groupSource;
    const { searchEntries } = await client.search(base || config.userSearchBase, {
      scope: 'sub',
      filter: fillFilter(filter, { dn, username: name }),
      attributes: ['cn'],
    });
    return searchEntries.map((e) => e.dn);
  };
  const own = await direct(entry.dn, username, true);
  if (config.nestedGroups !== 'recursive') return unique(own);
  // Bounded walk: groups of groups, each group visited once, at most MAX_GROUP_DEPTH levels.
  const visited = new Set(own.map((g) => g.toLowerCase()));
  const result = [...own];
  let frontier = own;
  for (let depth = 1; depth < MAX_GROUP_DEPTH && frontier.length > 0; depth++) {
    const next: string[] = [];
    for (const group of frontier) {
      for (const parent of await direct(group, group, false)) {
        if (visited.has(parent.toLowerCase())) continue;
        visited.add(parent.toLowerCase());
        result.push(parent);
        next.push(parent);
      }
    }
    frontier = next;
  }
  return result;
}

function unique(list: string[]): string[] {
  const seen = new Set<string>();
  return list.filter((g) => (seen.has(g.toLowerCase()) ? false : (seen.add(g.toLowerCase()), true)));
}

async function describe(client: Client, config: LdapConfig, entry: Entry, username: string): Promise<LdapUser> {
  const a = config.attributes;
  return {
    immutableId: immutableIdOf(config, entry),
    dn: entry.dn,
    attributes: {
      username: first(entry, a.username),
      email: first(entry, a.email),
      firstName: first(entry, a.firstName),
      lastName: first(entry, a.lastName),
      phone: first(entry, a.phone),
      organization: first(entry, a.organization),
    },
    groups: await groupsOf(client, config, entry, username),
  };
}

async function run(config: LdapConfig, work: (client: Client, url: string) => Promise<LdapUser>): Promise<LdapResult> {
  let connected: { client: Client; url: string } | null = null;
  try {
    connected = await connect(config);
    return { ok: true, user: await work(connected.client, connected.url) };
  } catch (error) {
    const failure = classify(config, connected?.url ?? config.urls[0] ?? '', error);
    return {
      ok: false,
      kind: failure.kind,
      message: failure.message,
      ...(failure.immutableId ? { immutableId: failure.immutableId } : {}),
    };
  } finally {
    if (connected) await close(connected.client);
  }
}

/** For the admin's "test connection": the service account finds the user; no user password involved. */
export function testConnection(config: LdapConfig, username: string): Promise<LdapResult> {
  return run(config, async (client) => describe(client, config, await findUser(client, config, username), username));
}

/** A directory login: search with the service account, require exactly one entry, bind as its DN. */
export async function authenticate(
  config: LdapConfig,
  username: string,
  password: string,
  beforeBind?: BeforeBind,
): Promise<LdapResult> {
  // An empty password is an anonymous bind that many directories (AD among them) answer with success.
  if (password.trim() === '')
    return { ok: false, kind: 'refused_empty_password', message: 'An empty password is never sent to the directory.' };
  if (username.trim() === '') return { ok: false, kind: 'not_found', message: 'No username was given.' };
  return run(config, async (client, url) => {
    const entry = await findUser(client, config, username);
    const immutableId = immutableIdOf(config, entry);
    if (beforeBind && !(await beforeBind(immutableId)))
      throw new LdapFailure('refused_before_bind', 'Roster refused this account before the bind.', immutableId);
    const userClient = new Client({
      url,
      connectTimeout: config.connectTimeoutMs,
      timeout: config.operationTimeoutMs,
      ...(url.startsWith('ldaps:') ? { tlsOptions: tlsOptions(config, hostOf(url)) } : {}),
      strictDN: true,
    });
    try {
      if (config.startTls && url.startsWith('ldap:'))
        await userClient.startTLS({ ...tlsOptions(config, hostOf(url)), host: hostOf(url) });
      await userClient.bind(entry.dn, password);
    } catch (error) {
      if (error instanceof InvalidCredentialsError)
        throw new LdapFailure(
          'invalid_credentials',
          `The directory refused the password for ${entry.dn}.`,
          immutableId,
        );
      throw error;
    } finally {
      await close(userClient);
    }
    return describe(client, config, entry, username);
  });
}

export type LdapListing =
  { ok: true; users: LdapUser[]; skipped: number } | { ok: false; kind: LdapFailureKind; message: string };

/**
 * Every entry the user filter matches (a paged search: a directory's size limit does not cut it
 * short), with mapped attributes and groups, for a directory sync. All or nothing: a directory
 * that stops answering half-way is a failure, never a partial list (which would look like
 * deleted users).
 */
export async function listDirectoryUsers(config: LdapConfig, pageSize = 500): Promise<LdapListing> {
  let connected: { client: Client; url: string } | null = null;
  try {
    connected = await connect(config);
    const { client } = connected;
    const a = config.attributes;
    const { searchEntries } = await client.search(config.userSearchBase, {
      scope: config.userSearchScope,
      // {username} becomes a presence match: every entry the filter admits, whatever its name.
      filter: config.userFilter.split('{username}').join('*'),
      attributes: [
        a.username,
        a.email,
        a.firstName,
        a.lastName,
        a.phone,
        a.organization,
        a.immutableId,
        'memberOf',
      ].filter((n) => n),
      explicitBufferAttributes: a.immutableId.toLowerCase() === 'objectguid' ? [a.immutableId] : [],
      paged: { pageSize },
    });
    const users: LdapUser[] = [];
    let skipped = 0;
    for (const entry of searchEntries) {
      // An entry without the immutable id cannot be matched to anyone: skip (and count) it rather than fail all.
      if (entry[a.immutableId] === undefined) {
        skipped++;
        continue;
      }
      users.push(await describe(client, config, entry, first(entry, a.username) ?? ''));
    }
    return { ok: true, users, skipped };
  } catch (error) {
    const failure = classify(config, connected?.url ?? config.urls[0] ?? '', error);
    return { ok: false, kind: failure.kind, message: failure.message };
  } finally {
    if (connected) await close(connected.client);
  }
}
