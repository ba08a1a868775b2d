import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { auditEvents } from '../db/schema.js';

export interface AuditFilter {
  actor: string;
  target: string;
  action: string;
  /** yyyy-mm-dd, UTC, inclusive. */
  from: string;
  to: string;
  /** Keyset paging: show events older than the event with this id. */
  before: number | null;
}

export const AUDIT_PAGE_SIZE = 50;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export interface AuditQueryValues {
  actor?: string;
  target?: string;
  action?: string;
  from?: string;
  to?: string;
  before?: number;
}

export function parseAuditFilter(query: AuditQueryValues): { filter: AuditFilter; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const date = (name: 'from' | 'to') => {
    const value = (query[name] ?? '').trim();
    if (value === '') return '';
    if (!DATE.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
      errors[name] = 'Use a date like 2026-01-31.';
      return '';
    }
    return value;
  };
  const before = query.before ?? 0;
  return {
    filter: {
      actor: (query.actor ?? '').trim().slice(0, 255),
      target: (query.target ?? '').trim().slice(0, 255),
      action: (query.action ?? '').trim().slice(0, 100),
      from: date('from'),
      to: date('to'),
      before: Number.isSafeInteger(before) && before > 0 ? before : null,
    },
    errors,
  };
}

/**
 * One page of the audit log, newest first. Every filter is an equality or a time range that an
 * index in (…, occurred_at, id) order serves, and paging is by keyset, so a page costs about
 * the same at event 1,000,000 as at event 1.
 */
export async function listAuditEvents(db: Database, filter: AuditFilter) {
  const conditions: Array<SQL | undefined> = [
    filter.actor ? sql`lower(${auditEvents.actorName}) = lower(${filter.actor})` : undefined,
    filter.target ? sql`lower(${auditEvents.targetName}) = lower(${filter.target})` : undefined,
    filter.action ? eq(auditEvents.action, filter.action) : undefined,
    filter.from ? gte(auditEvents.occurredAt, new Date(`${filter.from}T00:00:00Z`)) : undefined,
    filter.to ? lt(auditEvents.occurredAt, new Date(Date.parse(`${filter.to}T00:00:00Z`) + 86_400_000)) : undefined,
    // Compared as a row with the cursor event's own values, so equal timestamps cannot skip rows.
    filter.before
      ? sql`(${auditEvents.occurredAt}, ${auditEvents.id}) < (select c.occurred_at, c.id from audit_events c where c.id = ${filter.before})`
      : undefined,
  ];
  const rows = await db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.occurredAt), desc(auditEvents.id))
    .limit(AUDIT_PAGE_SIZE + 1);
  return {
    rows: rows.slice(0, AUDIT_PAGE_SIZE),
    nextBefore: rows.length > AUDIT_PAGE_SIZE ? rows[AUDIT_PAGE_SIZE - 1]!.id : null,
  };
}

/** The actions the filter offers. */
export const AUDIT_ACTIONS = [
  'authn_login_success',
  'authn_login_fail',
  'authn_login_fail_max',
  'authn_login_lock',
  'authn_logout',
  'authn_password_change',
  'authn_2fa_enrolled',
  'authn_2fa_removed',
  'authn_2fa_replay',
  'authn_recovery_code_used',
  'session_revoked',
  'authz_fail',
  'user_created',
  'user_updated',
  'user_deleted',
  'user_2fa_reset',
  'user_settings_changed',
  'group_created',
  'group_updated',
  'group_deleted',
  'group_member_added',
  'group_member_removed',
  'group_settings_changed',
  'privilege_permissions_changed',
] as const;
