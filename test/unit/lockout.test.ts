import { describe, expect, it } from 'vitest';
import { lockoutIsPermanent, MAX_TEMPORARY_LOCKOUTS, temporaryLockoutSeconds } from '../../src/auth/lockout.js';

describe('lockout schedule', () => {
  it('doubles from one minute and stops at fifteen', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(temporaryLockoutSeconds)).toEqual([60, 120, 240, 480, 900, 900, 900]);
  });

  it('locks the account for good after the temporary lockouts', () => {
    expect(MAX_TEMPORARY_LOCKOUTS).toBe(3);
    expect([1, 2, 3].map(lockoutIsPermanent)).toEqual([false, false, false]);
    expect(lockoutIsPermanent(4)).toBe(true);
  });
});
