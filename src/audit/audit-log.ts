import '../types.js';
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

/** Who is acting in this request, for the audit log. */
export function actorOf(request: FastifyRequest): AuditActor {
  const user = request.currentUser;
  return user
    ? { type: 'user', id: user.id, name: user.username, ip: request.ip }
    : { type: 'anonymous', id: null, name: '', ip: request.ip };
}

export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: null, name: 'system', ip: '' };

/** Records one event; pass the transaction of the change it describes so both land or neither. */
export async function recordAudit(db: Database, actor: AuditActor, entry: AuditEntry): Promise<void> {
  const { action, outcome = 'success', target, ...details } = entry;
  await db.insert(auditEvents).values({
    actorType: actor.type,
    actorId: actor.id,
    actorName: actor.name,
    ip: actor.ip,
    action,
    outcome,
    targetType: target?.type ?? '',
    targetId: target?.id ?? null,
    targetName: target?.name ?? '',
    details,
  });
}
