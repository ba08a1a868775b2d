import type { Permission } from './permissions.js';

/**
 * Who is acting, for every command, rule and audit entry: one type for the whole house.
 * `type` says how they came: a logged-in user (a session), an API key, the system itself (first
 * start, login-time bookkeeping) or nobody (a login attempt). See docs/architecture.md.
 */
export interface Actor {
  type: 'user' | 'api_key' | 'system' | 'anonymous';
  /** The user's or the key's id; null for the system and for anonymous visitors. */
  id: string | null;
  /** The username or the key's name, as the audit log shows it. */
  name: string;
  ip: string;
  /** When the request was made, by the app's clock: repeated refusals are folded by it. */
  at?: Date;
  /** What the actor holds (their groups' permissions summed; a key's own). */
  permissions: ReadonlySet<Permission>;
  /** The groups the actor belongs to (for the *_ifmember permissions); empty for a key. */
  groupIds: ReadonlySet<string>;
}

const NOTHING: ReadonlySet<never> = new Set();

/** The system itself: it holds everything. */
export const SYSTEM_ACTOR: Actor = {
  type: 'system',
  id: null,
  name: 'system',
  ip: '',
  permissions: new Set<Permission>(['global_admin']),
  groupIds: NOTHING,
};

/** Nobody logged in (a login attempt, a public page). */
export const anonymousActor = (ip: string, at?: Date): Actor => ({
  type: 'anonymous',
  id: null,
  name: '',
  ip,
  at,
  permissions: NOTHING,
  groupIds: NOTHING,
});

/** An identity provider acting on its users (a login's attribute refresh, a directory sync). */
export const providerActor = (provider: { id: string; kind: string; name: string }): Actor => ({
  type: 'system',
  id: null,
  name: `${provider.kind}:${provider.name}`,
  ip: '',
  permissions: NOTHING,
  groupIds: NOTHING,
});
