import path from 'node:path';

/** Every setting Roster reads from its environment, parsed and validated here only. */
export interface Config {
  host: string;
  port: number;
  /** postgres:// URL; when absent Roster runs the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** Password for the first admin on a scripted install; random (and printed) when absent. */
  adminPassword: string | undefined;
  /** 32-byte key (base64) that encrypts 2FA secrets at rest; generated into `dataDir` when absent. */
  secretKey: Buffer | undefined;
  /** Seed Administrators with require_2fa on (first start only). */
  adminsRequire2fa: boolean;
  /** Serve cookies with `Secure` and the `__Host-` prefix (set when Roster is behind HTTPS). */
  cookieSecure: boolean;
  trustProxy: boolean;
  passwordMinLength: number;
  maxLoginAttempts: number;
  /** Login POSTs allowed per client IP per minute. */
  loginRateLimit: number;
  sessionIdleMinutes: number;
  sessionAbsoluteHours: number;
  logLevel: string;
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
    dataDir: path.resolve(text('ROSTER_DATA_DIR') ?? 'data'),
    adminPassword,
    secretKey,
    adminsRequire2fa: bool('ROSTER_ADMINS_REQUIRE_2FA', false),
    cookieSecure: bool('COOKIE_SECURE', false),
    trustProxy: bool('TRUST_PROXY', false),
    passwordMinLength,
    maxLoginAttempts: int('MAX_LOGIN_ATTEMPTS', 5, 1, 100),
    loginRateLimit: int('LOGIN_RATE_LIMIT', 30, 1, 100000),
    sessionIdleMinutes: int('SESSION_IDLE_MINUTES', 30, 1, 24 * 60),
    sessionAbsoluteHours: int('SESSION_ABSOLUTE_HOURS', 12, 1, 24 * 30),
    logLevel,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
