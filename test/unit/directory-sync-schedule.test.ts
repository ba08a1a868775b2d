import { describe, expect, it } from 'vitest';
import { syncsDue } from '../../src/directories/directory-sync-schedule.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const minutesAgo = (minutes: number) => new Date(NOW - minutes * 60_000);
const provider = (
  id: string,
  fields: { kind?: 'ldap' | 'oidc' | 'saml'; enabled?: boolean; interval?: number; lastSyncAt?: Date | null } = {},
) => ({
  id,
  kind: fields.kind ?? 'ldap',
  enabled: fields.enabled ?? true,
  config: { syncIntervalMinutes: fields.interval ?? 15 },
  lastSyncAt: fields.lastSyncAt === undefined ? null : fields.lastSyncAt,
});

describe('syncsDue', () => {
  it('is due when never synced, or when the last sync is at least the interval old', () => {
    expect(
      syncsDue(
        [
          provider('never'),
          provider('old', { lastSyncAt: minutesAgo(16) }),
          provider('exactly', { lastSyncAt: minutesAgo(15) }),
          provider('recent', { lastSyncAt: minutesAgo(14) }),
        ],
        NOW,
      ),
    ).toEqual(['never', 'old', 'exactly']);
  });

  it('skips disabled providers, an interval of 0 (Sync now only), and providers that are not LDAP', () => {
    expect(
      syncsDue(
        [
          provider('disabled', { enabled: false }),
          provider('off', { interval: 0 }),
          provider('oidc', { kind: 'oidc' }),
          provider('weekly', { interval: 10_080, lastSyncAt: minutesAgo(10_079) }),
        ],
        NOW,
      ),
    ).toEqual([]);
  });

  it('reads a configuration without an interval as off', () => {
    expect(syncsDue([{ ...provider('bare'), config: {} }], NOW)).toEqual([]);
  });

  it('keeps the order it was given (the providers’ order)', () => {
    expect(syncsDue([provider('b'), provider('a')], NOW)).toEqual(['b', 'a']);
  });
});
