import { isUniqueViolation } from '../db/sql-helpers.js';
import type { Permission } from './permissions.js';

/**
 * What every command returns: the value, or one Problem saying why not. Commands never name an
 * HTTP status; http/problems.ts maps a Problem to a page, a fragment or an API answer, in one
 * place (see docs/architecture.md).
 */
export type Result<T = void> = { ok: true; value: T } | { ok: false; problem: Problem };

export type ProblemKind = 'invalid' | 'not_found' | 'conflict' | 'forbidden';

export interface Problem {
  kind: ProblemKind;
  /** For the person: shown beside the field, in the error summary, or as the API's error_message. */
  message: string;
  /** The form field the message belongs beside, when there is one. */
  field?: string;
  /** Several fields at once (a form's validation): field → message. */
  fields?: Readonly<Record<string, string>>;
  /** Forbidden: the permission that was missing, when one permission would have allowed it. */
  lacking?: Permission;
  /** A stable word for a caller that must tell refusals of one kind apart (e.g. 'stale', 'last_admin'). */
  reason?: string;
}

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const done: Result<void> = { ok: true, value: undefined };

export const fail = (kind: ProblemKind, message: string, extra: Omit<Problem, 'kind' | 'message'> = {}) =>
  ({ ok: false, problem: { kind, message, ...extra } }) as const;

export const invalid = (message: string, extra?: Omit<Problem, 'kind' | 'message'>) => fail('invalid', message, extra);
export const notFound = (message: string, extra?: Omit<Problem, 'kind' | 'message'>) =>
  fail('not_found', message, extra);
export const conflict = (message: string, extra?: Omit<Problem, 'kind' | 'message'>) =>
  fail('conflict', message, extra);
export const forbidden = (message: string, extra?: Omit<Problem, 'kind' | 'message'>) =>
  fail('forbidden', message, extra);

/** The errors of a form, field → message, from a Problem (its fields, else its one field). */
export function fieldErrorsOf(problem: Problem): Record<string, string> {
  if (problem.fields) return { ...problem.fields };
  return problem.field ? { [problem.field]: problem.message } : {};
}

/**
 * Runs a command whose writes are guarded by a unique index: when a concurrent save took the
 * name (or path) after the command's own check, the violation is answered with `duplicate`.
 */
export async function uniqueOr<T>(
  duplicate: { ok: false; problem: Problem },
  work: () => Promise<Result<T>>,
): Promise<Result<T>> {
  try {
    return await work();
  } catch (error) {
    if (isUniqueViolation(error)) return duplicate;
    throw error;
  }
}
