import { and, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { FastifyRequest } from 'fastify';
import type { Database } from '../db/client.js';
import { auditEvents } from '../db/schema.js';
import { anonymousActor, type Actor } from '../security/actor.js';

export interface AuditEntry {
  action: string;
  outcome?: 'success' | 'failure';
  target?: { type: string; id: string | null; name: string };
  /** Changed fields as { field: { old, new } }: never passwords, hashes, secrets or codes. */
  changes?: Record<string, { old: unknown; new: unknown }>;
  reason?: string;
  [detail: string]: unknown;
}

/** Who is acting in this request (its logged-in user, else nobody). */
export function actorOf(request: FastifyRequest): Actor {
  const user = request.currentUser;
  const at = new Date(request.server.now());
  return user
    ? {
        type: 'user',
        id: user.id,
        name: user.username,
        ip: request.ip,
        at,
        permissions: user.permissions,
        groupIds: user.groupIds,
      }
    : anonymousActor(request.ip, at);
}

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
export async function recordAudit(db: Database, actor: Actor, entry: AuditEntry): Promise<void> {
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

/** Identical refusals within this long of the first are one row that counts them. */
export const REPEAT_WINDOW_MS = 60_000;

/**
 * Records a refusal, or counts it on the row of the same refusal (same actor, address, action,
 * target and details) first recorded less than REPEAT_WINDOW_MS ago: a script retrying a call it
 * may not make writes a row a minute, not a row a call. The row keeps `repeated` (how many times
 * in all) and `lastAt`. Its time is the app's clock, as the window is; an actor without `at`
 * (made outside a request) is recorded row by row.
 */
async function recordRepeatable(db: Database, actor: Actor, entry: AuditEntry): Promise<void> {
  if (!actor.at) return recordAudit(db, actor, entry);
  const { action, outcome = 'failure', target, ...details } = entry;
  const at = actor.at;
  const same = storable({ actorName: actor.name, targetName: target?.name ?? '', details });
  const earlier = db
    .select({ id: auditEvents.id })
    .from(auditEvents)
    .where(
      and(
        actor.id === null ? isNull(auditEvents.actorId) : eq(auditEvents.actorId, actor.id),
        eq(auditEvents.action, action),
        gt(auditEvents.occurredAt, new Date(at.getTime() - REPEAT_WINDOW_MS)),
        eq(auditEvents.actorType, actor.type),
        eq(auditEvents.actorName, same.actorName),
        eq(auditEvents.ip, actor.ip),
        eq(auditEvents.outcome, outcome),
        eq(auditEvents.targetType, target?.type ?? ''),
        target?.id ? eq(auditEvents.targetId, target.id) : isNull(auditEvents.targetId),
        eq(auditEvents.targetName, same.targetName),
        sql`${auditEvents.details} - 'repeated' - 'lastAt' = ${JSON.stringify(same.details)}::jsonb`,
      ),
    )
    .orderBy(desc(auditEvents.id))
    .limit(1);
  // One statement, so that two repeats at once both count (each updates under the row's lock).
  const counted = await db
    .update(auditEvents)
    .set({
      details: sql`${auditEvents.details} || jsonb_build_object('repeated', coalesce((${auditEvents.details}->>'repeated')::int, 1) + 1, 'lastAt', ${at.toISOString()}::text)`,
    })
    .where(sql`${auditEvents.id} = (${earlier})`)
    .returning({ id: auditEvents.id });
  if (counted.length > 0) return;
  await db.insert(auditEvents).values({
    occurredAt: at,
    actorType: actor.type,
    actorId: actor.id,
    actorName: same.actorName,
    ip: actor.ip,
    action,
    outcome,
    targetType: target?.type ?? '',
    targetId: target?.id ?? null,
    targetName: same.targetName,
    details: same.details,
  });
}

/** Records a refused change (no way up): what was tried on `target`, and the permissions missing. */
export function recordRefusal(
  db: Database,
  actor: Actor,
  target: AuditEntry['target'],
  reason: string,
  lacking: readonly string[],
): Promise<void> {
  return recordRepeatable(db, actor, { action: 'authz_fail', outcome: 'failure', target, reason, lacking });
}

/** Records a request refused for a missing permission (the route's rule, or a hidden object). */
export function recordDenied(
  db: Database,
  actor: Actor,
  request: { reason: string; method: string; url: string },
): Promise<void> {
  return recordRepeatable(db, actor, { action: 'authz_fail', outcome: 'failure', ...request });
}
