import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/client.js';
import { auditEvents } from '../db/schema.js';

export interface AuditActor {
  type: 'user' | 'api_key' | 'system' | 'anonymous';
  id: string | null;
  name: string;
  ip: string;
}

export interface AuditEntry {
  action: string;
  outcome?: 'success' | 'failure';
  target?: { type: string; id: string | null; name: string };
  /** Changed fields as { field: { old, new } }: never passwords, hashes, secrets or codes. */
  changes?: Record<string, { old: unknown; new: unknown }>;
  reason?: string;
  [detail: string]: unknown;
}

/** Who acts in a request: for the audit log, and what they hold for the permission rules. */
export type RequestActor = AuditActor & { permissions: ReadonlySet<string>; groupIds: ReadonlySet<string> };

const NOTHING: ReadonlySet<string> = new Set();

/** Who is acting in this request. */
export function actorOf(request: FastifyRequest): RequestActor {
  const user = request.currentUser;
  return user
    ? { type: 'user', id: user.id, name: user.username, ip: request.ip, permissions: user.permissions, groupIds: user.groupIds }
    : { type: 'anonymous', id: null, name: '', ip: request.ip, permissions: NOTHING, groupIds: NOTHING };
}

/** The system itself (first start, login-time bookkeeping): it holds everything. */
export const SYSTEM_ACTOR: RequestActor = { type: 'system', id: null, name: 'system', ip: '', permissions: new Set(['global_admin']), groupIds: NOTHING };

/**
 * Postgres stores no NUL in text or jsonb, yet a failed login may carry one in the name typed:
 * it is recorded as U+FFFD so that the attempt is still recorded rather than failing.
 */
function storable<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storable(key), storable(inner)])) as T;
  }
  return value;
}

/** Records one event; pass the transaction of the change it describes so both land or neither. */
export async function recordAudit(db: Database, actor: AuditActor, entry: AuditEntry): Promise<void> {
  const { action, outcome = 'success', target, ...details } = entry;
  await db.insert(auditEvents).values({
    actorType: actor.type,
    actorId: actor.id,
    actorName: storable(actor.name),
    ip: actor.ip,
    action,
    outcome,
    targetType: target?.type ?? '',
    targetId: target?.id ?? null,
    targetName: storable(target?.name ?? ''),
    details: storable(details),
  });
}

/** Records a refused change (no way up): what was tried on `target`, and the permissions missing. */
export function recordRefusal(db: Database, actor: AuditActor, target: AuditEntry['target'], reason: string, lacking: readonly string[]): Promise<void> {
  return recordAudit(db, actor, { action: 'authz_fail', outcome: 'failure', target, reason, lacking });
}

/** Records a request refused for a missing permission (the route's rule, or a hidden object). */
export function recordDenied(db: Database, actor: AuditActor, request: { reason: string; method: string; url: string }): Promise<void> {
  return recordAudit(db, actor, { action: 'authz_fail', outcome: 'failure', ...request });
}
