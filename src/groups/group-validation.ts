// What a group form must hold (docs/rules.md#groups): a pure rule, the same for the page and the API.
import { nameProblem } from '../security/text-rules.js';

export interface GroupInput {
  name: string;
  description: string;
  priority: number;
}

export function validateGroup(
  body: Record<string, unknown>,
): { ok: true; value: GroupInput } | { ok: false; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const name = String(body.name ?? '').trim();
  const description = String(body.description ?? '').trim();
  const priorityText = String(body.priority ?? '').trim();
  const nameIssue = nameProblem(name);
  if (name === '') errors.name = 'Name is required.';
  else if ([...name].length > 255) errors.name = 'Name must be at most 255 characters.';
  else if (nameIssue) errors.name = `Name ${nameIssue}`;
  if ([...description].length > 10_000) errors.description = 'Description must be at most 10,000 characters.';
  else if (description.includes('\u0000')) errors.description = 'Description must not contain a NUL character.';
  const priority = Number(priorityText);
  if (!/^\d+$/.test(priorityText) || priority < 1 || priority > 1000) {
    errors.priority = 'Priority must be a whole number from 1 to 1000 (lower numbers win).';
  }
  return Object.keys(errors).length > 0 ? { ok: false, errors } : { ok: true, value: { name, description, priority } };
}
