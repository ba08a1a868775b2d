import crypto from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session's CSRF token (synchronizer pattern), created on first use. */
export function csrfToken(request: FastifyRequest): string {
  request.session.csrfToken ??= crypto.randomBytes(32).toString('base64url');
  return request.session.csrfToken;
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
    if (SAFE_METHODS.has(request.method) || request.routeOptions.config.csrf === false) return;
    const body = request.body as Record<string, unknown> | undefined;
    const given = request.headers['x-csrf-token'] ?? body?._csrf;
    if (sameToken(request.session.csrfToken, given)) return;
    request.log.warn({ url: request.url }, 'CSRF token missing or wrong');
    return reply.code(403).render('errors/error', {
      title: 'Form expired',
      message: 'This form has expired or did not come from Roster. Go back, reload the page and try again.',
    });
  });
});
