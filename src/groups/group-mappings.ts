// SSO group mappings (docs/rules.md#sso-group-mappings), as pure rules: how a directory group's DN
// is compared, which groups a user's directory groups map to, and what that changes in their
// memberships. group-mappings-commands.ts reads and writes; everything it decides is here.

/** A separator between the parts of a DN, around which spacing does not count. */
const SEPARATORS = new Set([',', '=']);
const isSpace = (char: string) => /\s/u.test(char);

/**
 * A DN as mappings compare it: lower case, without the spacing around its `,` and `=` (and at
 * either end), so `CN=Admins, OU=Groups,DC=Corp` and `cn=admins,ou=groups,dc=corp` are one
 * group. Escaped characters (`\,`, `\=`, `\ `, `\2C`) are kept as they are: they belong to a value.
 */
export function normalizeDn(dn: string): string {
  let out = '';
  // Characters of `out` up to here came escaped (or are value text before a space): never trimmed.
  let kept = 0;
  let skippingSpace = true; // at the start, and after a separator
  for (let i = 0; i < dn.length; i++) {
    const char = dn[i]!;
    if (char === '\\' && i + 1 < dn.length) {
      out += char + dn[i + 1]!.toLowerCase();
      i++;
      kept = out.length;
      skippingSpace = false;
    } else if (SEPARATORS.has(char)) {
      out = out.slice(0, Math.max(kept, out.trimEnd().length)) + char;
      kept = out.length;
      skippingSpace = true;
    } else if (isSpace(char)) {
      if (!skippingSpace) out += char;
    } else {
      out += char.toLowerCase();
      kept = out.length;
      skippingSpace = false;
    }
  }
  return out.slice(0, Math.max(kept, out.trimEnd().length));
}

/** The key a mapping is unique by within its group and provider: '*' for all users, else the normalized DN. */
export function matchKeyOf(mapping: { allUsers: boolean; groupDn: string }): string {
  return mapping.allUsers ? '*' : normalizeDn(mapping.groupDn);
}

export interface MappingRule {
  groupId: string;
  allUsers: boolean;
  /** matchKeyOf the mapping, as stored. */
  matchKey: string;
}

/** The groups a user of the provider belongs to by its mappings, given the DNs of their directory groups. */
export function mappedGroupIds(mappings: readonly MappingRule[], userGroupDns: readonly string[]): Set<string> {
  const dns = new Set(userGroupDns.map(normalizeDn));
  const wanted = new Set<string>();
  for (const mapping of mappings) {
    if (mapping.allUsers || mapping.matchKey === '*' || dns.has(mapping.matchKey)) wanted.add(mapping.groupId);
  }
  return wanted;
}

/**
 * What recomputing a user's mapped memberships for `providerId` changes: `remove` the memberships
 * this provider's mappings made that no mapping wants any more (a manual membership, or another
 * provider's, is never touched); `add` the wanted groups the user is not in at all (one they are
 * already in, however, stays as it is). Both sorted, so the result never depends on row order.
 */
export function membershipChanges(
  current: ReadonlyArray<{ groupId: string; sourceProviderId: string | null }>,
  wanted: ReadonlySet<string>,
  providerId: string,
): { add: string[]; remove: string[] } {
  const inGroups = new Set(current.map((membership) => membership.groupId));
  const remove = current
    .filter((membership) => membership.sourceProviderId === providerId && !wanted.has(membership.groupId))
    .map((membership) => membership.groupId);
  const add = [...wanted].filter((groupId) => !inGroups.has(groupId));
  return { add: [...new Set(add)].sort(), remove: [...new Set(remove)].sort() };
}
