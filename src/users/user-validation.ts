import { passwordProblem } from '../security/password-policy.js';
import { mixedScriptProblem, nameProblem } from '../security/text-rules.js';
import { REALMS, type Realm } from '../db/schema.js';

/** The admin-editable fields of a user (docs/rules.md#users), in form order, with the keys the API uses. */
export const USER_TEXT_FIELDS = [
  { key: 'first_name', prop: 'firstName', label: 'First Name', max: 255 },
  { key: 'last_name', prop: 'lastName', label: 'Last Name', max: 255 },
  { key: 'organization', prop: 'organization', label: 'Organization', max: 255 },
  { key: 'email', prop: 'email', label: 'Email', max: 255 },
  { key: 'phone', prop: 'phone', label: 'Phone', max: 255 },
  { key: 'city', prop: 'city', label: 'City', max: 255 },
  { key: 'state', prop: 'state', label: 'State', max: 255 },
  { key: 'country', prop: 'country', label: 'Country', max: 255 },
  { key: 'custom_attribute_1', prop: 'customAttribute1', label: 'Custom Attribute 1', max: 1000 },
  { key: 'custom_attribute_2', prop: 'customAttribute2', label: 'Custom Attribute 2', max: 1000 },
  { key: 'custom_attribute_3', prop: 'customAttribute3', label: 'Custom Attribute 3', max: 1000 },
] as const;

type TextProp = (typeof USER_TEXT_FIELDS)[number]['prop'];

export const USER_FLAG_FIELDS = [
  { key: 'locked', prop: 'locked', label: 'Locked' },
  { key: 'disabled', prop: 'disabled', label: 'Disabled' },
  { key: 'force_password_reset', prop: 'forcePasswordReset', label: 'Force Password Reset on Login' },
] as const;

type FlagProp = (typeof USER_FLAG_FIELDS)[number]['prop'];

export type UserInput = { username: string; realm: Realm; notes: string } & Record<TextProp, string> &
  Record<FlagProp, boolean>;

/** Raw form values as the form shows them again (by API key). */
export type UserFormValues = Record<string, string | boolean>;

export type UserValidation =
  { ok: true; user: UserInput; password: string | undefined } | { ok: false; errors: Record<string, string> };

export const NOTES_MAX = 10_000;
const CONTROL_CHARS = /\p{Cc}/u;
const CONTROL_CHARS_EXCEPT_LINE_BREAKS = /[^\P{Cc}\n\r\t]/u;
const EMAIL_SHAPE = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:".]+$/;

const length = (value: string) => [...value].length;

/**
 * A user name as stored and as looked up: trimmed and in Unicode NFC, so that `é` typed as one
 * code point or as e + combining accent is one name (for uniqueness, login and the API).
 */
export const normalUserName = (text: string) => text.trim().normalize('NFC');

/** A checkbox or JSON boolean: present and not false-ish means true. */
export function formBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return !['', 'false', '0', 'off', 'no'].includes(value.toLowerCase());
  return false;
}

function formText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return '';
}

/** The values to show in the form again after a failed submit (never the password). */
export function formValuesFrom(body: Record<string, unknown>): UserFormValues {
  const values: UserFormValues = {
    username: formText(body.username),
    realm: formText(body.realm) || 'local',
    notes: formText(body.notes),
  };
  for (const field of USER_TEXT_FIELDS) values[field.key] = formText(body[field.key]);
  for (const field of USER_FLAG_FIELDS) values[field.key] = formBoolean(body[field.key]);
  return values;
}

/** The form values of a stored user. */
export function formValuesOf(user: UserInput): UserFormValues {
  const values: UserFormValues = { username: user.username, realm: user.realm, notes: user.notes };
  for (const field of USER_TEXT_FIELDS) values[field.key] = user[field.prop];
  for (const field of USER_FLAG_FIELDS) values[field.key] = user[field.prop];
  return values;
}

/** Why a change to the local realm cannot be saved without a password (beside Realm). */
export const LOCAL_NEEDS_PASSWORD = 'A local user needs a password: enter one to change the realm to local.';

/**
 * Validates a user form (docs/rules.md#users). A local user needs a password: on create one must be entered;
 * on update an empty password leaves the stored one alone, but a user who has none
 * (`hasPassword` false: an LDAP, SAML or OIDC user) cannot become local without one — else they
 * could not log in.
 */
export function validateUser(
  body: Record<string, unknown>,
  options: { mode: 'create' | 'update'; passwordMinLength: number; hasPassword?: boolean },
): UserValidation {
  const errors: Record<string, string> = {};
  const username = normalUserName(formText(body.username));
  const usernameProblem = nameProblem(username) ?? mixedScriptProblem(username);
  if (username === '') errors.username = 'User Name is required.';
  else if (length(username) > 255) errors.username = 'User Name must be at most 255 characters.';
  else if (usernameProblem) errors.username = `User Name ${usernameProblem}`;

  const realmRaw = formText(body.realm) || 'local';
  const realm = (REALMS as readonly string[]).includes(realmRaw) ? (realmRaw as Realm) : undefined;
  if (!realm) errors.realm = `Realm must be one of ${REALMS.join(', ')}.`;

  const notes = formText(body.notes);
  if (length(notes) > NOTES_MAX)
    errors.notes = `Notes must be at most ${NOTES_MAX.toLocaleString('en-US')} characters.`;
  else if (CONTROL_CHARS_EXCEPT_LINE_BREAKS.test(notes)) errors.notes = 'Notes must not contain control characters.';

  const text = {} as Record<TextProp, string>;
  for (const field of USER_TEXT_FIELDS) {
    const value = formText(body[field.key]).trim();
    text[field.prop] = value;
    if (length(value) > field.max) {
      errors[field.key] = `${field.label} must be at most ${field.max.toLocaleString('en-US')} characters.`;
    } else if (CONTROL_CHARS.test(value)) {
      errors[field.key] = `${field.label} must not contain control characters.`;
    }
  }
  if (!errors.email && text.email !== '' && !EMAIL_SHAPE.test(text.email)) {
    errors.email = 'Email must look like an address, e.g. name@example.com.';
  }

  const flags = {} as Record<FlagProp, boolean>;
  for (const field of USER_FLAG_FIELDS) flags[field.prop] = formBoolean(body[field.key]);
  if (flags.forcePasswordReset && realm && realm !== 'local') {
    errors.force_password_reset = `Force Password Reset on Login applies to local users only; ${realm} users change their password with their identity provider.`;
  }

  const passwordRaw = formText(body.password);
  let password: string | undefined;
  if (realm === 'local') {
    if (passwordRaw === '') {
      if (options.mode === 'create') errors.password = 'Password is required for local users.';
      else if (options.hasPassword === false) errors.realm = LOCAL_NEEDS_PASSWORD;
    } else {
      const problem = passwordProblem(passwordRaw, { username, minLength: options.passwordMinLength });
      if (problem) errors.password = problem;
      else password = passwordRaw;
    }
  } else if (passwordRaw !== '') {
    errors.password = `${realm ?? 'This realm'} users have no local password; leave Password empty.`;
  }

  if (Object.keys(errors).length > 0 || !realm) return { ok: false, errors };
  return { ok: true, password, user: { username, realm, notes, ...text, ...flags } };
}
