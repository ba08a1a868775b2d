import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LOCK_AFTER_TEMPORARY_LOCKOUTS,
  lockoutIsPermanent,
  temporaryLockoutSeconds,
} from '../../src/security/lockout.js';

describe('lockout policy', () => {
  it('doubles the temporary lockout from 1 minute up to 15 minutes', () => {
    expect([1, 2, 3, 4, 5, 6].map(temporaryLockoutSeconds)).toEqual([60, 120, 240, 480, 900, 900]);
  });

  it('locks for good after the configured number of temporary lockouts (default 3)', () => {
    expect(DEFAULT_LOCK_AFTER_TEMPORARY_LOCKOUTS).toBe(3);
    expect([1, 2, 3].map((n) => lockoutIsPermanent(n))).toEqual([false, false, false]);
    expect(lockoutIsPermanent(4)).toBe(true);
    expect(lockoutIsPermanent(2, 1)).toBe(true);
    expect(lockoutIsPermanent(1, 1)).toBe(false);
  });

  it('never locks for good with 0', () => {
    expect([1, 4, 50, 1000].map((n) => lockoutIsPermanent(n, 0))).toEqual([false, false, false, false]);
  });
});
