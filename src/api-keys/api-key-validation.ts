// docs/rules.md#developer-api: the fields of an API key and their rules, for the form.
import type { ApiKey } from '../db/schema.js';
import { nameProblem } from '../security/text-rules.js';

export interface ApiKeyInput {
  name: string;
  readOnly: boolean;
  enabled: boolean;
  expiresAt: Date | null;
}

export type ApiKeyFormBody = Partial<Record<'name' | 'read_only' | 'enabled' | 'expires', string>>;

const EXPIRES_SHAPE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?$/;

/**
 * The key form (Name, Read-Only, Enabled, Expires in UTC as YYYY-MM-DD or YYYY-MM-DD HH:MM).
 * A new expiry must lie in the future; `previous` (on edit) keeps an unchanged one valid.
 */
export function validateApiKey(
  body: ApiKeyFormBody,
  now: Date,
  previous: Date | null = null,
): { ok: true; value: ApiKeyInput } | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const name = (body.name ?? '').trim();
  const nameIssue = nameProblem(name);
  if (name === '') errors.name = 'Name is required.';
  else if ([...name].length > 255) errors.name = 'Name must be at most 255 characters.';
  else if (nameIssue) errors.name = `Name ${nameIssue}`;
  let expiresAt: Date | null = null;
  const expires = (body.expires ?? '').trim();
  if (expires !== '') {
    const match = EXPIRES_SHAPE.exec(expires);
    const date = match
      ? new Date(Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!, +(match[4] ?? 0), +(match[5] ?? 0)))
      : null;
    const exact =
      date &&
      match &&
      date.getUTCDate() === +match[3]! &&
      date.getUTCHours() === +(match[4] ?? 0) &&
      date.getUTCMinutes() === +(match[5] ?? 0);
    if (!date || !exact)
      errors.expires = 'Expires must be a date (YYYY-MM-DD), optionally with a UTC time (YYYY-MM-DD HH:MM).';
    else if (date.getTime() <= now.getTime() && date.getTime() !== previous?.getTime())
      errors.expires = 'Expires must be in the future.';
    else expiresAt = date;
  }
  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: { name, readOnly: body.read_only !== undefined, enabled: body.enabled !== undefined, expiresAt },
  };
}

/** What the form shows for a stored key (or a new one). */
export function apiKeyFormValues(apiKey: ApiKey | null): Required<ApiKeyFormBody> {
  return {
    name: apiKey?.name ?? '',
    read_only: apiKey?.readOnly ? 'on' : '',
    enabled: apiKey === null || apiKey.enabled ? 'on' : '',
    expires: apiKey?.expiresAt ? apiKey.expiresAt.toISOString().slice(0, 16).replace('T', ' ') : '',
  };
}
