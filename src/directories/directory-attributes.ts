// What a directory entry says about a user, in Roster's columns (docs/rules.md#realms): the
// mapped attributes a login or a sync copies over. Pure: the commands apply and audit the changes.
import type { User } from '../db/schema.js';
import type { LdapUser } from './ldap-directory.js';

/** The user columns a directory owns; an attribute the directory leaves unset is kept as Roster has it. */
export type DirectoryOwnedField = 'email' | 'firstName' | 'lastName' | 'phone' | 'organization';
const OWNED: Record<DirectoryOwnedField, string> = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  organization: 'organization',
};

export interface AttributeChanges {
  /** Drizzle column values to set. */
  set: Partial<Record<DirectoryOwnedField, string>>;
  /** The audit diff, keyed by the API's field names. */
  changes: Record<string, { old: string; new: string }>;
}

export function directoryAttributeChanges(user: Pick<User, DirectoryOwnedField>, entry: LdapUser): AttributeChanges {
  const set: AttributeChanges['set'] = {};
  const changes: AttributeChanges['changes'] = {};
  for (const [field, key] of Object.entries(OWNED) as [DirectoryOwnedField, string][]) {
    const value = entry.attributes[field];
    if (value === null) continue;
    // Control characters never reach a stored name (the admin forms refuse them too).
    const next = value
      .replace(/\p{Cc}/gu, '')
      .trim()
      .slice(0, 255);
    if (next !== user[field]) {
      set[field] = next;
      changes[key] = { old: user[field], new: next };
    }
  }
  return { set, changes };
}
