import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { actorOf, recordAudit } from '../audit/audit-log.js';
import { hasPermission, type Permission } from '../security/permissions.js';
import { accessOfUser } from '../groups/groups-repository.js';
import type { CurrentUser } from '../types.js';
import { findUserById } from '../users/users-repository.js';

const TOUCH_INTERVAL_MS = 60 * 1000;

function wantsHtml(request: FastifyRequest): boolean {
  return !request.url.startsWith('/api/');
}

/**
 * Sends the visitor to the login page. htmx requests get HX-Redirect so that the whole page
 * navigates instead of the login form being swapped into a fragment.
 */
function redirectToLogin(request: FastifyRequest, reply: FastifyReply) {
  // After a POST (its session expired) there is no page to return to: go home after login.
  const path = request.method === 'GET' ? request.url : '/';
  const location = path === '/' ? '/login' : `/login?next=${encodeURIComponent(path)}`;
  if (request.headers['hx-request'] === 'true') return reply.header('HX-Redirect', location).code(401).send();
  return reply.redirect(location, 303);
}

/** Failed authorization attempts go to the audit log too. */
export function recordDenied(request: FastifyRequest, reason: string) {
  return recordAudit(request.server.db, actorOf(request), {
    action: 'authz_fail',
    outcome: 'failure',
    reason,
    method: request.method,
    url: request.url,
  });
}

/** Answers 403 with a page saying why (for a refusal already recorded in the audit log). */
export function renderForbidden(reply: FastifyReply, message: string) {
  return reply.code(403).render('errors/error', { title: 'Not allowed', message });
}

/** Answers 403 with a page saying why, and records the attempt. */
export async function forbidden(reply: FastifyReply, message = 'You do not have permission to do that.') {
  await recordDenied(reply.request, message);
  return renderForbidden(reply, message);
}

/**
 * Loads the logged-in user (and their permissions) from the database on every request, so
 * that disabling a user or changing their groups takes effect at once; then applies each
 * route's access rule. Every route needs a logged-in user unless its config says `public`.
 */
export default fp(async (app) => {
  app.decorateRequest('currentUser', null);

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    const userId = request.session.userId;
    if (userId) {
      const user = await findUserById(app.db, userId);
      if (!user || user.disabled || user.locked) {
        await request.session.regenerate(); // the account can no longer be used: start anonymous
      } else {
        const current: CurrentUser = {
          id: user.id,
          username: user.username,
          realm: user.realm,
          forcePasswordReset: user.forcePasswordReset,
          ...(await accessOfUser(app.db, user.id)),
        };
        request.currentUser = current;
        const now = app.now();
        if (!request.session.lastSeen || now - request.session.lastSeen > TOUCH_INTERVAL_MS) {
          request.session.lastSeen = now; // saves the session, which moves its idle expiry
        }
      }
    }

    if (config.public) return;
    const user = request.currentUser;
    if (!user) {
      if (!wantsHtml(request)) return reply.code(401).send({ error_message: 'Authentication required.' });
      return redirectToLogin(request, reply);
    }
    // Unfinished login business comes before any other page: a new password, then a second factor.
    const setup = user.forcePasswordReset
      ? config.allowDuringPasswordReset ? null : '/password-reset'
      : request.session.mustEnrollTwoFactor && !config.allowDuringTwoFactorEnrollment ? '/profile/2fa' : null;
    if (setup) {
      if (request.headers['hx-request'] === 'true') return reply.header('HX-Redirect', setup).send();
      return reply.redirect(setup, 303);
    }
    const needed = config.permission ?? 'user';
    const anyOf: readonly Permission[] = typeof needed === 'string' ? [needed] : needed;
    if (!anyOf.some((permission) => hasPermission(user.permissions, permission)) && !config.allowDuringPasswordReset) {
      return forbidden(reply, `You do not have permission to do that (it needs ${anyOf.join(' or ')}).`);
    }
  });

  // What a logged-in person sees must not outlive the session in a shared or back-button cache.
  app.addHook('onSend', async (request, reply) => {
    if (request.currentUser && !reply.hasHeader('cache-control')) reply.header('Cache-Control', 'no-store');
  });
});
