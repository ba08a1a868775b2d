// Roster's records in the shapes and field names of Kasm's developer API (docs/rules.md#developer-api), so that
// scripts written for Kasm read them unchanged. Pure: built from rows already read.
import type { User, Workspace } from '../db/schema.js';

/** Kasm writes ids as 32 hex digits without dashes. */
export const toKasmId = (id: string): string => id.replaceAll('-', '');

/** A UUID given with or without dashes (the schema checked its digits), in Postgres' form. */
export function fromKasmId(id: string): string {
  const hex = id.replaceAll('-', '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

/** A recorded launch with what its expiry depends on (seconds from its plan's settings; 0 = none). */
export interface KasmSessionRow {
  id: string;
  userId: string;
  workspaceId: string | null;
  workspaceName: string;
  createdAt: Date;
  keepaliveAt: Date;
  keepaliveSeconds: number;
  timeLimitSeconds: number;
}

/** When a session expires: the earlier of keepalive + Keepalive Expiration and start + Session Time Limit. */
export function expirationOf(
  session: Pick<KasmSessionRow, 'createdAt' | 'keepaliveAt' | 'keepaliveSeconds' | 'timeLimitSeconds'>,
): Date | null {
  const limits = [
    session.keepaliveSeconds > 0 ? session.keepaliveAt.getTime() + session.keepaliveSeconds * 1000 : Infinity,
    session.timeLimitSeconds > 0 ? session.createdAt.getTime() + session.timeLimitSeconds * 1000 : Infinity,
  ];
  const earliest = Math.min(...limits);
  return Number.isFinite(earliest) ? new Date(earliest) : null;
}

/** Where the session's page is (Kasm answers a path to append to the server's address). */
export const kasmUrl = (sessionId: string) => `/workspace-sessions/${sessionId}`;

export function kasmSession(session: KasmSessionRow) {
  return {
    kasm_id: toKasmId(session.id),
    user_id: toKasmId(session.userId),
    image_id: session.workspaceId ? toKasmId(session.workspaceId) : null,
    friendly_name: session.workspaceName,
    operational_status: 'running',
    start_date: iso(session.createdAt),
    created_date: iso(session.createdAt),
    keepalive_date: iso(session.keepaliveAt),
    expiration_date: iso(expirationOf(session)),
    kasm_url: kasmUrl(session.id),
  };
}

export type KasmUserRow = Pick<
  User,
  | 'id'
  | 'username'
  | 'firstName'
  | 'lastName'
  | 'phone'
  | 'email'
  | 'organization'
  | 'realm'
  | 'city'
  | 'state'
  | 'country'
  | 'notes'
  | 'locked'
  | 'disabled'
  | 'twoFactorEnabled'
  | 'createdAt'
  | 'passwordChangedAt'
  | 'lastSession'
>;

export function kasmUser(
  user: KasmUserRow,
  groups: ReadonlyArray<{ id: string; name: string }>,
  sessions: readonly KasmSessionRow[],
) {
  return {
    user_id: toKasmId(user.id),
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    phone: user.phone,
    email: user.email,
    organization: user.organization,
    realm: user.realm,
    city: user.city,
    state: user.state,
    country: user.country,
    notes: user.notes,
    locked: user.locked,
    disabled: user.disabled,
    two_factor: user.twoFactorEnabled,
    created: iso(user.createdAt),
    password_set_date: iso(user.passwordChangedAt),
    last_session: iso(user.lastSession),
    groups: groups.map((group) => ({ group_id: toKasmId(group.id), name: group.name })),
    kasms: sessions.map(kasmSession),
  };
}

export function kasmImage(workspace: Workspace) {
  return {
    image_id: toKasmId(workspace.id),
    friendly_name: workspace.friendlyName,
    name: workspace.image,
    description: workspace.description,
    cores: workspace.cores,
    memory: workspace.memoryMb * 1024 * 1024, // Kasm counts bytes
    memory_mb: workspace.memoryMb,
    enabled: workspace.enabled,
  };
}

/** A user's own settings as Kasm's user attributes: null where the user keeps the group default. */
export function kasmUserAttributes(userId: string, own: Readonly<Record<string, unknown>>, keys: readonly string[]) {
  return {
    user_attributes_id: toKasmId(userId), // Roster keeps one set of attributes per user
    user_id: toKasmId(userId),
    ...Object.fromEntries(keys.map((key) => [key, own[key] ?? null])),
  };
}

/** A user's identity at an identity provider, as get_user answers it (Roster's own field). */
export function kasmIdentity(identity: {
  providerId: string;
  providerName: string;
  providerKind: string;
  subject: string;
  externalName: string;
  lastSyncAt: Date | null;
}) {
  return {
    provider_id: toKasmId(identity.providerId),
    provider_name: identity.providerName,
    kind: identity.providerKind,
    subject: identity.subject,
    external_name: identity.externalName,
    last_sync_at: iso(identity.lastSyncAt),
  };
}
