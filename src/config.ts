import net from 'node:net';
import path from 'node:path';

/** Every setting Roster reads from its environment, parsed and validated here only. */
export interface Config {
  host: string;
  port: number;
  /** postgres:// URL; when absent Roster runs the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  /**
   * Connections to the PostgreSQL server. Fewer than the requests in flight and postgres.js queues
   * statements behind running ones on a connection, where a quick read waits out a slow search.
   */
  databasePoolSize: number;
  dataDir: string;
  /** The embedded database's shared_buffers (MB): Postgres' 128 MB default is sized for a server of its own. */
  pgliteSharedBuffersMb: number;
  /** Let V8 optimize the embedded database's WebAssembly: faster, and 80–90 MB more memory. */
  pgliteOptimizeWasm: boolean;
  /** Password for the first admin on a scripted install; random (and printed) when absent. */
  adminPassword: string | undefined;
  /** 32-byte key (base64) that encrypts 2FA secrets at rest; generated into `dataDir` when absent. */
  secretKey: Buffer | undefined;
  /** Seed Administrators with require_2fa on (first start only). */
  adminsRequire2fa: boolean;
  /** Serve cookies with `Secure` and the `__Host-` prefix (set when Roster is behind HTTPS). */
  cookieSecure: boolean;
  /**
   * Which peers may set X-Forwarded-For/-Proto: none (false), the nearest N hops, or the
   * listed proxy addresses and CIDR ranges. Never "every hop": that lets a client choose its IP.
   */
  trustProxy: false | number | string[];
  passwordMinLength: number;
  maxLoginAttempts: number;
  /** Temporary lockouts after which the account is Locked until an admin clears it; 0 = never. */
  lockAfterTemporaryLockouts: number;
  /**
   * A failed password login answers no sooner than this many ms after it began, so that its
   * timing does not tell an unknown user from a wrong password or a directory's answer.
   */
  loginFailureMinMs: number;
  /** Login POSTs allowed per client IP per minute. */
  loginRateLimit: number;
  /** Developer API calls per API key per minute. */
  apiRateLimit: number;
  /** Users read per statement while get_users streams every user. */
  apiStreamBatch: number;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  logLevel: string;
  /**
   * Keep compiled templates in memory (the default). `npm run dev` turns it off so that an edit
   * to a view shows on the next request without a restart (TEMPLATE_CACHE=false).
   */
  templateCache: boolean;
  /** How far V8 lets the JavaScript heap grow past live data before collecting (%); 0 = V8's own. */
  heapGrowingPercent: number;
  /** Run each directory's automatic sync at its interval (off in tests, which sync by hand). */
  directorySyncScheduler: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = text(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  };

  const trustProxy = (): Config['trustProxy'] => {
    const raw = text('TRUST_PROXY');
    if (raw === undefined || ['false', 'no', 'off', '0'].includes(raw.toLowerCase())) return false;
    if (['true', 'yes', 'on'].includes(raw.toLowerCase())) {
      problems.push(
        'TRUST_PROXY=true would trust every hop, so any client could pick its own address with X-Forwarded-For ' +
          '(escaping the login rate limit and forging audit addresses). Write the number of proxies in front of Roster ' +
          '(e.g. TRUST_PROXY=1) or their addresses (e.g. TRUST_PROXY=10.0.0.2,10.1.0.0/16)',
      );
      return false;
    }
    if (/^\d+$/.test(raw)) {
      const hops = Number(raw);
      if (hops <= 10) return hops;
      problems.push(`TRUST_PROXY hop count must be from 1 to 10 (got "${raw}")`);
      return false;
    }
    const entries = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
    const bad = entries.filter((entry) => !isProxyAddress(entry));
    if (bad.length > 0) {
      problems.push(
        `TRUST_PROXY must be false, a hop count, or comma-separated proxy addresses/CIDR ranges (not understood: ${bad.join(', ')})`,
      );
      return false;
    }
    return entries;
  };

  const databaseUrl = text('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must start with postgres:// or postgresql://');
  }
  const logLevel = text('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }
  const passwordMinLength = int('PASSWORD_MIN_LENGTH', 12, 8, 256);
  const adminPassword = env.ROSTER_ADMIN_PASSWORD === '' ? undefined : env.ROSTER_ADMIN_PASSWORD;
  const secretKeyText = text('ROSTER_SECRET_KEY');
  const secretKey = secretKeyText === undefined ? undefined : Buffer.from(secretKeyText, 'base64');
  if (secretKey && secretKey.length !== 32) {
    problems.push('ROSTER_SECRET_KEY must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)');
  }

  const config: Config = {
    host: text('HOST') ?? '127.0.0.1',
    port: int('PORT', 3000, 0, 65535),
    databaseUrl,
    databasePoolSize: int('DATABASE_POOL_SIZE', 20, 1, 1000),
    dataDir: path.resolve(text('ROSTER_DATA_DIR') ?? 'data'),
    pgliteSharedBuffersMb: int('PGLITE_SHARED_BUFFERS_MB', 16, 1, 4096),
    pgliteOptimizeWasm: bool('PGLITE_OPTIMIZE_WASM', false),
    adminPassword,
    secretKey,
    adminsRequire2fa: bool('ROSTER_ADMINS_REQUIRE_2FA', false),
    cookieSecure: bool('COOKIE_SECURE', false),
    trustProxy: trustProxy(),
    passwordMinLength,
    maxLoginAttempts: int('MAX_LOGIN_ATTEMPTS', 5, 1, 100),
    lockAfterTemporaryLockouts: int('LOCK_AFTER_TEMPORARY_LOCKOUTS', 3, 0, 100),
    loginFailureMinMs: int('LOGIN_FAILURE_MIN_MS', 750, 0, 10_000),
    loginRateLimit: int('LOGIN_RATE_LIMIT', 30, 1, 100000),
    apiRateLimit: int('API_RATE_LIMIT', 600, 1, 1_000_000),
    apiStreamBatch: int('API_STREAM_BATCH', 500, 1, 10_000),
    sessionIdleMinutes: int('SESSION_IDLE_MINUTES', 30, 1, 24 * 60),
    sessionAbsoluteHours: int('SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30),
    logLevel,
    heapGrowingPercent: int('HEAP_GROWING_PERCENT', 50, 0, 400),
    templateCache: bool('TEMPLATE_CACHE', true),
    directorySyncScheduler: bool('DIRECTORY_SYNC_SCHEDULER', true),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** An IP address, a CIDR range, or one of the names proxy-addr knows (loopback, linklocal, uniquelocal). */
function isProxyAddress(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = net.isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
