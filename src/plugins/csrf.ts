import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Exempt from the session CSRF check (JSON API authenticated by key, not cookie). */
    csrf?: false;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const newToken = () => crypto.randomBytes(32).toString('base64url');

/** The cookie that carries a visitor's token before they have a session (signed, HttpOnly). */
function anonymousCsrfCookieName(secure: boolean): string {
  return secure ? '__Host-roster_csrf' : 'roster_csrf';
}

/** Whether the request belongs to a stored session (logged in, or half-way through a login). */
function hasStoredSession(request: FastifyRequest): boolean {
  const session = request.session;
  return session.userId !== undefined || session.pendingSecondFactor !== undefined || session.csrfToken !== undefined;
}

/**
 * The CSRF token for the forms of this response. In a session: the session's token
 * (synchronizer pattern), created on first use. Before one (the login form): a token in a
 * signed cookie, submitted again in the form (double submit) — so an anonymous visitor costs
 * no session row, and login itself is still protected against cross-site requests.
 */
export function csrfToken(request: FastifyRequest, reply: FastifyReply): string {
  if (hasStoredSession(request)) {
    request.session.csrfToken ??= newToken();
    return request.session.csrfToken;
  }
  const existing = anonymousToken(request);
  if (existing) return existing;
  const token = newToken();
  const secure = request.server.config.cookieSecure;
  reply.setCookie(anonymousCsrfCookieName(secure), token, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: '/',
  });
  return token;
}

function anonymousToken(request: FastifyRequest): string | null {
  const raw = request.cookies[anonymousCsrfCookieName(request.server.config.cookieSecure)];
  if (!raw) return null;
  const unsigned = request.unsignCookie(raw);
  return unsigned.valid ? unsigned.value : null;
}

function sameToken(expected: string | undefined, given: unknown): boolean {
  if (!expected || typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/**
 * Every state-changing request must carry the session's token: forms in the `_csrf` field,
 * htmx requests in the X-CSRF-Token header (set by hx-headers in the layout).
 */
export default fp(async (app) => {
  app.addHook('preHandler', async (request, reply) => {
    // Nothing changes on a 404, so it needs no token (and an unknown API call gets its 404).
    if (SAFE_METHODS.has(request.method) || request.routeOptions.config.csrf === false || request.is404) return;
    const body = request.body as Record<string, unknown> | null | undefined;
    const given = request.headers['x-csrf-token'] ?? body?._csrf;
    const expected = hasStoredSession(request) ? request.session.csrfToken : (anonymousToken(request) ?? undefined);
    if (sameToken(expected, given)) return;
    request.log.warn({ url: request.url }, 'CSRF token missing or wrong');
    return reply.code(403).render('errors/error', {
      title: 'Form expired',
      message: 'This form has expired or did not come from Roster. Go back, reload the page and try again.',
    });
  });
});
