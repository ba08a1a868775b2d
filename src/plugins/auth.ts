import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { CurrentUser } from '../security/current-user.js';
import { hasPermission, type Permission } from '../security/permissions.js';

declare module 'fastify' {
  interface FastifyRequest {
    currentUser: CurrentUser | null;
  }
  interface FastifyReply {
    /**
     * Answers 403 with a page saying why, and records the attempt in the audit log: for a route's
     * own check. A command's refusal (already audited by the command) is `reply.problemPage`.
     */
    forbidden(message?: string): Promise<FastifyReply>;
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
    /**
     * Never reads the logged-in user (the Developer API authenticates each call by its key):
     * a browser's session cookie gives such a route nothing.
     */
    sessionless?: boolean;
  }
}

export interface AuthOptions {
  /** The session's user if they may still use Roster (exists, not disabled, not locked), else null. */
  loadUser(userId: string): Promise<CurrentUser | null>;
  /** Records a refused request in the audit log. */
  recordDenied(request: FastifyRequest, reason: string): Promise<void>;
}

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

/**
 * Loads the logged-in user (and their permissions) on every request, through the loader it is
 * given (this plugin knows no domain folder); then applies each route's access rule. Every
 * route needs a logged-in user unless its config says `public`.
 */
export default fp<AuthOptions>(async (app, { loadUser, recordDenied }) => {
  app.decorateRequest('currentUser', null);
  app.decorateReply(
    'forbidden',
    async function (this: FastifyReply, message = 'You do not have permission to do that.') {
      await recordDenied(this.request, message);
      return this.code(403).render('errors/error', { title: 'Not allowed', message });
    },
  );

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    // A JSON client asking for an unknown API call gets the 404, not a login demand.
    if (config.sessionless || (request.is404 && !wantsHtml(request))) return;
    const userId = request.session.userId;
    if (userId) {
      const read = request.sessionUser; // read with the session, if it was
      const user = read !== undefined && (read === null || read.id === userId) ? read : await loadUser(userId);
      if (!user) {
        await request.session.regenerate(); // the account can no longer be used: start anonymous
      } else {
        request.currentUser = user;
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
      ? config.allowDuringPasswordReset
        ? null
        : '/password-reset'
      : request.session.mustEnrollTwoFactor && !config.allowDuringTwoFactorEnrollment
        ? '/profile/2fa'
        : null;
    if (setup) {
      if (request.headers['hx-request'] === 'true') return reply.header('HX-Redirect', setup).send();
      return reply.redirect(setup, 303);
    }
    const needed = config.permission ?? 'user';
    const anyOf: readonly Permission[] = typeof needed === 'string' ? [needed] : needed;
    if (!anyOf.some((permission) => hasPermission(user.permissions, permission)) && !config.allowDuringPasswordReset) {
      return reply.forbidden(`You do not have permission to do that (it needs ${anyOf.join(' or ')}).`);
    }
  });

  // What a logged-in person sees must not outlive the session in a shared or back-button cache.
  app.addHook('onSend', async (request, reply) => {
    if (request.currentUser && !reply.hasHeader('cache-control')) reply.header('Cache-Control', 'no-store');
  });
});
