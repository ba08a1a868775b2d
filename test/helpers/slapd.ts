/**
 * A real OpenLDAP server for one test file: its own temp folder, CA and server certificate
 * (SAN IP:127.0.0.1), an old-style slapd.conf, a seed loaded offline with slapadd, and a slapd
 * process owned by the test on free loopback ports (ldap:// and ldaps://).
 *
 * `allow bind_anon_dn` is on, so "DN + empty password" is an anonymous success as on Active
 * Directory: a missing empty-password guard would really let someone in here.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { LDAP_PRESETS, type LdapConfig } from '../../src/directories/ldap-config.js';

export const SLAPD_PATH = process.env.SLAPD_PATH ?? '/usr/sbin/slapd';
const SLAPADD = '/usr/sbin/slapadd';
const SLAPPASSWD = '/usr/sbin/slappasswd';

export function slapdAvailable(): boolean {
  return fs.existsSync(SLAPD_PATH) && fs.existsSync(SLAPADD) && fs.existsSync(SLAPPASSWD);
}

/** Skipped with a notice where slapd is missing; under CI=true (which installs it) never skipped. */
export const skipSlapdTests = !slapdAvailable() && !process.env.CI;
if (skipSlapdTests)
  console.warn(`Directory tests skipped: no slapd at ${SLAPD_PATH} (apt-get install slapd ldap-utils).`);

export const BASE_DN = 'dc=example,dc=test';
export const ROOT_DN = `cn=admin,${BASE_DN}`;
export const ROOT_PASSWORD = 'root-secret-1';
export const SERVICE_DN = `cn=roster,ou=services,${BASE_DN}`;
export const SERVICE_PASSWORD = 'service-secret-1';
export const PEOPLE = `ou=people,${BASE_DN}`;
export const GROUPS = `ou=groups,${BASE_DN}`;
export const PASSWORDS = { alice: 'alice-pass-1', bob: 'bob-pass-1', carol: 'carol-pass-1' } as const;

export interface Slapd {
  folder: string;
  ldapUrl: string;
  ldapsUrl: string;
  caCertificate: string;
  pid: number;
  stop(): Promise<void>;
  pause(): void;
  resume(): void;
  /** A client bound as the rootdn, for adding, renaming and deleting entries while running. */
  admin(): Promise<Client>;
  add(dn: string, attributes: Record<string, string | string[]>): Promise<void>;
  rename(dn: string, newRdn: string): Promise<void>;
  remove(dn: string): Promise<void>;
  modify(dn: string, attribute: string, values: string[]): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function openssl(cwd: string, ...args: string[]) {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

function seed(): string {
  const person = (uid: string, cn: string, given: string, sn: string, extra = '') => `dn: uid=${uid},${PEOPLE}
objectClass: inetOrgPerson
uid: ${uid}
cn: ${cn}
givenName: ${given}
sn: ${sn}
mail: ${uid}@example.test
telephoneNumber: +1 555 0100
o: Example Corp
userPassword: ${PASSWORDS[uid as keyof typeof PASSWORDS] ?? 'twin-pass-1'}
${extra}`;
  return `dn: ${BASE_DN}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,${BASE_DN}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${BASE_DN}
objectClass: organizationalUnit
ou: groups

dn: ou=services,${BASE_DN}
objectClass: organizationalUnit
ou: services

dn: ${SERVICE_DN}
objectClass: person
cn: roster
sn: service
userPassword: ${SERVICE_PASSWORD}

${person('alice', 'Alice Liddell', 'Alice', 'Liddell')}
${person('bob', 'Bob Builder', 'Bob', 'Builder')}
${person('carol', 'Carol Danvers', 'Carol', 'Danvers')}
dn: uid=twin1,${PEOPLE}
objectClass: inetOrgPerson
uid: twin1
cn: Twin One
sn: Twin
mail: twin@example.test
userPassword: twin-pass-1

dn: uid=twin2,${PEOPLE}
objectClass: inetOrgPerson
uid: twin2
cn: Twin Two
sn: Twin
mail: twin@example.test
userPassword: twin-pass-1

dn: cn=engineers,${GROUPS}
objectClass: groupOfNames
cn: engineers
member: uid=alice,${PEOPLE}
member: uid=bob,${PEOPLE}

dn: cn=staff,${GROUPS}
objectClass: groupOfNames
cn: staff
member: cn=engineers,${GROUPS}
member: uid=carol,${PEOPLE}

dn: cn=everyone,${GROUPS}
objectClass: groupOfNames
cn: everyone
member: cn=staff,${GROUPS}
`;
}

export async function startSlapd(): Promise<Slapd> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-slapd-'));
  openssl(
    folder,
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Roster test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl(
    folder,
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  fs.writeFileSync(path.join(folder, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl(
    folder,
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
    '-out',
    'server.pem',
  );
  fs.chmodSync(path.join(folder, 'server.key'), 0o644);
  const rootHash = execFileSync(SLAPPASSWD, ['-s', ROOT_PASSWORD]).toString().trim();
  fs.mkdirSync(path.join(folder, 'db'));
  const schema = (name: string) => `include /etc/ldap/schema/${name}.schema`;
  const conf = `${['core', 'cosine', 'inetorgperson', 'nis', 'dyngroup'].map(schema).join('\n')}
pidfile ${folder}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload dynlist
allow bind_anon_dn
TLSCACertificateFile ${folder}/ca.pem
TLSCertificateFile ${folder}/server.pem
TLSCertificateKeyFile ${folder}/server.key

database mdb
suffix "${BASE_DN}"
rootdn "${ROOT_DN}"
rootpw ${rootHash}
directory ${folder}/db
maxsize 209715200
# As a directory set up for Roster would: the service account may page through every entry.
limits dn.exact="${SERVICE_DN}" size.soft=500 size.hard=unlimited size.prtotal=unlimited
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by * read
`;
  fs.writeFileSync(path.join(folder, 'slapd.conf'), conf);
  fs.writeFileSync(path.join(folder, 'seed.ldif'), seed());
  execFileSync(SLAPADD, ['-f', 'slapd.conf', '-l', 'seed.ldif'], { cwd: folder, stdio: 'pipe' });
  const [port, tlsPort] = [await freePort(), await freePort()];
  const ldapUrl = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${tlsPort}`;
  const child: ChildProcess = spawn(
    SLAPD_PATH,
    ['-f', path.join(folder, 'slapd.conf'), '-h', `${ldapUrl}/ ${ldapsUrl}/`, '-d', '0'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid as number;
  const caCertificate = fs.readFileSync(path.join(folder, 'ca.pem'), 'utf8');

  const admin = async () => {
    const client = new Client({ url: ldapUrl, timeout: 3000, connectTimeout: 3000 });
    await client.bind(ROOT_DN, ROOT_PASSWORD);
    return client;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`slapd exited: ${stderr}`);
    try {
      const c = await admin();
      await c.unbind();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`slapd did not answer: ${String(error)} ${stderr}`, { cause: error });
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const withAdmin = async (work: (c: Client) => Promise<unknown>) => {
    const c = await admin();
    try {
      await work(c);
    } finally {
      await c.unbind();
    }
  };
  return {
    folder,
    ldapUrl,
    ldapsUrl,
    caCertificate,
    pid,
    async stop() {
      if (child.exitCode === null) {
        process.kill(pid, 'SIGCONT');
        process.kill(pid, 'SIGTERM');
        await exited;
      }
      fs.rmSync(folder, { recursive: true, force: true });
    },
    pause: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
    admin,
    add: (dn, attributes) => withAdmin((c) => c.add(dn, attributes)),
    rename: (dn, newRdn) => withAdmin((c) => c.modifyDN(dn, newRdn)),
    remove: (dn) => withAdmin((c) => c.del(dn)),
    modify: (dn, attribute, values) =>
      withAdmin((c) =>
        c.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: attribute, values }) })),
      ),
  };
}

/**
 * A working configuration for this test directory (the OpenLDAP preset over ldaps:// with the
 * test CA); nesting is walked with a group search, since dynlist fills memberOf on people only.
 */
export function slapdLdapConfig(slapd: Slapd, overrides: Partial<LdapConfig> = {}): LdapConfig {
  return {
    ...LDAP_PRESETS.openldap,
    urls: [slapd.ldapsUrl],
    startTls: false,
    caCertificate: slapd.caCertificate,
    bindDn: SERVICE_DN,
    bindPassword: SERVICE_PASSWORD,
    userSearchBase: PEOPLE,
    groupSource: { base: GROUPS, filter: '(&(objectClass=groupOfNames)(member={dn}))' },
    loginDomains: ['example.test'],
    connectTimeoutMs: 1000,
    operationTimeoutMs: 1000,
    createUsersAtFirstLogin: true,
    syncIntervalMinutes: 0,
    ...overrides,
  };
}
