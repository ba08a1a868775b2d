import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import fp from 'fastify-plugin';
import { loadOrCreateSecret } from '../db/app-secrets.js';
import type { CurrentUser } from '../security/current-user.js';
import { DatabaseSessionStore, deleteExpiredSessions, type SessionUserQuery } from './session-store.js';

declare module 'fastify' {
  interface Session {
    userId?: string;
    csrfToken?: string;
    /** Epoch ms of the last time the session was touched (throttles idle-expiry writes). */
    lastSeen?: number;
    ip?: string;
    userAgent?: string;
    /** A message for the next page (after a redirect); with `section`, that page shows it in that section. */
    flash?: { type: 'success' | 'error' | 'info' | 'warning'; message: string; section?: string };
    /** Where to go after the forced password reset that interrupted a login. */
    returnTo?: string;
    /** Password was right; the login waits for the second factor (not yet authenticated). */
    pendingSecondFactor?: { userId: string; at: number; next: string };
    /** A group requires 2FA and the user has none: enrolment comes before anything else. */
    mustEnrollTwoFactor?: boolean;
    /** Set by a login with Auto Launch: the next GET /go launches without the confirm step. */
    autoLaunchPending?: boolean;
  }
  interface FastifyRequest {
    /**
     * The session's user as read with the session (null: they may no longer use Roster), or
     * undefined when the session has none or it was not read with it.
     */
    sessionUser: CurrentUser | null | undefined;
  }
  interface FastifyContextConfig {
    /** Served over plain HTTP even with COOKIE_SECURE (health checks, static files). */
    allowPlainHttp?: boolean;
  }
}

const CLEANUP_INTERVAL_MS = 10 * 60 * 1000;

export const HTTPS_REQUIRED_MESSAGE =
  'This server is configured for HTTPS (COOKIE_SECURE=true), but this request came over plain HTTP, so no login could work. ' +
  'Open Roster with https://. If a proxy terminates TLS in front of Roster, set TRUST_PROXY so that Roster sees the original protocol.';

export interface SessionOptions {
  /** Reads the session's user in the session's own statement (see `request.sessionUser`). */
  userQuery?: SessionUserQuery;
}

/** Server-side sessions in Postgres; the cookie only carries the signed session id. */
export default fp<SessionOptions>(async (app, { userQuery }) => {
  const { config, db } = app;
  const lifetime = { idleMinutes: config.sessionIdleMinutes, absoluteHours: config.sessionAbsoluteHours };
  // Signs the anonymous visitor's CSRF cookie (see csrf.ts); the session id has its own key.
  await app.register(fastifyCookie, { secret: await loadOrCreateSecret(db, 'cookie_signing_key') });

  const store = new DatabaseSessionStore(db, lifetime, app.now, userQuery);
  await app.register(fastifySession, {
    secret: await loadOrCreateSecret(db, 'session_cookie_key'),
    // `__Host-` makes the browser refuse the cookie unless Secure, path=/ and no Domain.
    cookieName: config.cookieSecure ? '__Host-roster_session' : 'roster_session',
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, path: '/' },
    store,
    saveUninitialized: false,
    // Saving on every request would write the database each time; the auth plugin touches the
    // session (at most once a minute) instead, which keeps the idle expiry moving.
    rolling: false,
  });

  app.decorateRequest('sessionUser', undefined);
  // Right after @fastify/session's own hook has read the session.
  app.addHook('onRequest', async (request) => {
    request.sessionUser = store.takeUser(request.session.sessionId);
  });

  // With COOKIE_SECURE the browser only sends the cookies back over HTTPS: over plain HTTP
  // every login would fail as "Form expired". Say so instead (health checks excepted).
  app.addHook('onRequest', async (request, reply) => {
    if (!config.cookieSecure || request.protocol === 'https' || request.routeOptions.config.allowPlainHttp) return;
    if (request.url.startsWith('/api/')) return reply.code(400).send({ error_message: HTTPS_REQUIRED_MESSAGE });
    return reply.code(400).render('errors/error', { title: 'HTTPS required', message: HTTPS_REQUIRED_MESSAGE });
  });

  const purge = () =>
    deleteExpiredSessions(db, lifetime, app.now()).catch((error: unknown) =>
      app.log.warn({ err: error }, 'session cleanup failed'),
    );
  await purge(); // rows left from before a restart go at once
  const timer = setInterval(() => void purge(), CLEANUP_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
});
