import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import fp from 'fastify-plugin';
import { loadOrCreateSecret } from '../db/app-secrets.js';
import { DatabaseSessionStore, deleteExpiredSessions } from './session-store.js';

const CLEANUP_INTERVAL_MS = 10 * 60 * 1000;

/** Server-side sessions in Postgres; the cookie only carries the signed session id. */
export default fp(async (app) => {
  const { config, db } = app;
  const lifetime = { idleMinutes: config.sessionIdleMinutes, absoluteHours: config.sessionAbsoluteHours };
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: await loadOrCreateSecret(db, 'session_cookie_key'),
    // `__Host-` makes the browser refuse the cookie unless Secure, path=/ and no Domain.
    cookieName: config.cookieSecure ? '__Host-roster_session' : 'roster_session',
    cookie: { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, path: '/' },
    store: new DatabaseSessionStore(db, lifetime),
    saveUninitialized: false,
    // Saving on every request would write the database each time; the auth plugin touches the
    // session (at most once a minute) instead, which keeps the idle expiry moving.
    rolling: false,
  });

  const timer = setInterval(() => {
    deleteExpiredSessions(db, lifetime).catch((error: unknown) => app.log.warn({ err: error }, 'session cleanup failed'));
  }, CLEANUP_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
});
