import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('has defaults that run on a fresh machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      databaseUrl: undefined,
      dataDir: path.resolve('data'),
      passwordMinLength: 12,
      maxLoginAttempts: 5,
      sessionIdleMinutes: 30,
      sessionAbsoluteHours: 12,
      cookieSecure: false,
      pgliteSharedBuffersMb: 16,
      pgliteOptimizeWasm: false,
      databasePoolSize: 20,
      heapGrowingPercent: 50,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      DATABASE_URL: 'postgres://u@db/roster',
      ROSTER_DATA_DIR: '/var/lib/roster',
      COOKIE_SECURE: 'true',
      PASSWORD_MIN_LENGTH: '15',
      MAX_LOGIN_ATTEMPTS: '3',
      PGLITE_SHARED_BUFFERS_MB: '64',
      PGLITE_OPTIMIZE_WASM: 'on',
      DATABASE_POOL_SIZE: '8',
      HEAP_GROWING_PERCENT: '0',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      databaseUrl: 'postgres://u@db/roster',
      dataDir: '/var/lib/roster',
      cookieSecure: true,
      passwordMinLength: 15,
      maxLoginAttempts: 3,
      pgliteSharedBuffersMb: 64,
      pgliteOptimizeWasm: true,
      databasePoolSize: 8,
      heapGrowingPercent: 0,
    });
  });

  it('names every bad value at once', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        COOKIE_SECURE: 'maybe',
        DATABASE_URL: 'mysql://x',
        PASSWORD_MIN_LENGTH: '4',
        DATABASE_POOL_SIZE: '0',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT must be a whole number from 0 to 65535 \(got "eighty"\)/);
    expect(problems).toMatch(/COOKIE_SECURE must be true or false/);
    expect(problems).toMatch(/DATABASE_URL must start with postgres:\/\//);
    expect(problems).toMatch(/PASSWORD_MIN_LENGTH must be a whole number from 8 to 256/);
    expect(problems).toMatch(/DATABASE_POOL_SIZE must be a whole number from 1 to 1000 \(got "0"\)/);
  });
});

describe('the README configuration table', () => {
  it('has a row for every variable Roster reads', () => {
    const read = new Set<string>();
    loadConfig(new Proxy({}, { get: (_, name) => (read.add(String(name)), undefined) }));
    const readme = fs.readFileSync('README.md', 'utf8');
    expect(read.size).toBeGreaterThan(15);
    expect([...read].filter((name) => !readme.includes(`| \`${name}\` |`))).toEqual([]);
  });
});

describe('TRUST_PROXY', () => {
  const trustProxy = (value: string) => loadConfig({ TRUST_PROXY: value }).trustProxy;

  it('takes false, a hop count, or proxy addresses and CIDR ranges', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(trustProxy('false')).toBe(false);
    expect(trustProxy('2')).toBe(2);
    expect(trustProxy('10.0.0.2')).toEqual(['10.0.0.2']);
    expect(trustProxy('10.0.0.2, 10.1.0.0/16,::1,fd00::/8,loopback')).toEqual([
      '10.0.0.2',
      '10.1.0.0/16',
      '::1',
      'fd00::/8',
      'loopback',
    ]);
  });

  it('refuses true, saying why and what to write instead', () => {
    expect(() => trustProxy('true')).toThrow(
      /TRUST_PROXY=true would trust every hop.*TRUST_PROXY=1.*TRUST_PROXY=10\.0\.0\.2,10\.1\.0\.0\/16/s,
    );
  });

  it('refuses what it cannot read', () => {
    expect(() => trustProxy('10.0.0.300')).toThrow(/not understood: 10\.0\.0\.300/);
    expect(() => trustProxy('10.0.0.0/33')).toThrow(/not understood: 10\.0\.0\.0\/33/);
    expect(() => trustProxy('proxy.example')).toThrow(/not understood: proxy\.example/);
    expect(() => trustProxy('11')).toThrow(/hop count must be from 1 to 10/);
  });
});

describe('DIRECTORY_SYNC_SCHEDULER', () => {
  it('runs the directory sync scheduler unless turned off', () => {
    expect(loadConfig({}).directorySyncScheduler).toBe(true);
    expect(loadConfig({ DIRECTORY_SYNC_SCHEDULER: 'false' }).directorySyncScheduler).toBe(false);
    expect(() => loadConfig({ DIRECTORY_SYNC_SCHEDULER: 'sometimes' })).toThrow(
      /DIRECTORY_SYNC_SCHEDULER must be true or false/,
    );
  });
});

describe('LOCK_AFTER_TEMPORARY_LOCKOUTS', () => {
  it('defaults to 3 and takes 0 (never)', () => {
    expect(loadConfig({}).lockAfterTemporaryLockouts).toBe(3);
    expect(loadConfig({ LOCK_AFTER_TEMPORARY_LOCKOUTS: '0' }).lockAfterTemporaryLockouts).toBe(0);
    expect(() => loadConfig({ LOCK_AFTER_TEMPORARY_LOCKOUTS: '-1' })).toThrow(
      /LOCK_AFTER_TEMPORARY_LOCKOUTS must be a whole number from 0 to 100/,
    );
  });
});
