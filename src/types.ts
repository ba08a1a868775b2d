import type { Permission } from './security/permissions.js';
import type { SecretBox } from './auth/secret-box.js';
import type { Config } from './config.js';
import type { Database } from './db/client.js';
import type { Realm } from './db/schema.js';

/** The logged-in user of a request, read from the database on every request. */
export interface CurrentUser {
  id: string;
  username: string;
  realm: Realm;
  forcePasswordReset: boolean;
  permissions: ReadonlySet<string>;
  /** The groups the user belongs to (for the *_ifmember permissions). */
  groupIds: ReadonlySet<string>;
}

export interface Flash {
  type: 'success' | 'error' | 'info';
  message: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    config: Config;
    /** Encrypts 2FA secrets at rest. */
    secretBox: SecretBox;
    /** The time in epoch ms: injected by tests, so that time-based rules need no waiting. */
    now(): number;
  }
  interface FastifyRequest {
    currentUser: CurrentUser | null;
  }
  interface FastifyContextConfig {
    /** Pages anyone may see (login, health, static files). Every other route needs a session. */
    public?: boolean;
    /** The permission a route needs, or a list of which any one will do (global_admin always passes). */
    permission?: Permission | readonly Permission[];
    /** Reachable while the user still has to choose a new password. */
    allowDuringPasswordReset?: boolean;
    /** Reachable while the user still has to enrol a second factor their group requires. */
    allowDuringTwoFactorEnrollment?: boolean;
    /** Exempt from the session CSRF check (JSON API authenticated by key, not cookie). */
    csrf?: false;
    /** Served over plain HTTP even with COOKIE_SECURE (health checks, static files). */
    allowPlainHttp?: boolean;
  }
  interface Session {
    userId?: string;
    csrfToken?: string;
    /** Epoch ms of the last time the session was touched (throttles idle-expiry writes). */
    lastSeen?: number;
    ip?: string;
    userAgent?: string;
    flash?: Flash;
    /** Where to go after the forced password reset that interrupted a login. */
    returnTo?: string;
    /** Password was right; the login waits for the second factor (not yet authenticated). */
    pendingSecondFactor?: { userId: string; at: number; next: string };
    /** A group requires 2FA and the user has none: enrolment comes before anything else. */
    mustEnrollTwoFactor?: boolean;
  }
}
