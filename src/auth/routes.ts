import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actorOf, recordAudit } from '../audit/audit-log.js';
import { csrfToken } from '../plugins/csrf.js';
import { safeReturnPath } from '../plugins/auth.js';
import { changeOwnPassword } from '../users/users-service.js';
import { attemptLogin } from './login-service.js';
import { passwordProblem } from './password-policy.js';

type LoginBody = { username?: string; password?: string; next?: string };
type PasswordResetBody = { password?: string; password_confirm?: string };

const LOGIN_FAILED = 'Invalid user name or password.';

export default async function authRoutes(app: FastifyInstance) {
  await app.register(rateLimit, { global: false });

  app.get<{ Querystring: { next?: string } }>('/login', { config: { public: true } }, async (request, reply) => {
    if (request.currentUser) return reply.redirect(safeReturnPath(request.query.next), 303);
    return reply.render('auth/login', { values: { username: '' }, next: safeReturnPath(request.query.next), error: null });
  });

  app.post<{ Body: LoginBody }>(
    '/login',
    {
      config: {
        public: true,
        rateLimit: {
          max: app.config.loginRateLimit,
          timeWindow: '1 minute',
          // A readable page rather than the plugin's JSON body.
          errorResponseBuilder: (_request, context) => ({
            statusCode: 429,
            error: 'Too Many Requests',
            message: `Too many login attempts from your address. Try again in ${context.after}.`,
          }),
        },
      },
    },
    async (request, reply) => {
      const username = String(request.body.username ?? '').slice(0, 300);
      const password = String(request.body.password ?? '');
      const next = safeReturnPath(request.body.next);
      const result = await attemptLogin(app.db, {
        username,
        password,
        ip: request.ip,
        maxAttempts: app.config.maxLoginAttempts,
      });
      if (!result.ok) {
        return reply.code(401).render('auth/login', { values: { username }, next, error: LOGIN_FAILED });
      }
      await startAuthenticatedSession(request, result.user.id);
      if (!result.user.forcePasswordReset) return reply.redirect(next, 303);
      request.session.returnTo = next; // where to go once the new password is set
      return reply.redirect('/password-reset', 303);
    },
  );

  app.post('/logout', { config: { allowDuringPasswordReset: true } }, async (request, reply) => {
    const user = request.currentUser;
    if (user) {
      await recordAudit(app.db, actorOf(request), {
        action: 'authn_logout',
        target: { type: 'user', id: user.id, name: user.username },
      });
    }
    await request.session.destroy();
    return reply.redirect('/login', 303);
  });

  app.get('/password-reset', { config: { allowDuringPasswordReset: true } }, async (request, reply) => {
    if (!request.currentUser?.forcePasswordReset) return reply.redirect('/', 303);
    return reply.render('auth/password-reset', { errors: {}, minLength: app.config.passwordMinLength });
  });

  app.post<{ Body: PasswordResetBody }>(
    '/password-reset',
    { config: { allowDuringPasswordReset: true } },
    async (request, reply) => {
      const user = request.currentUser;
      if (!user?.forcePasswordReset) return reply.redirect('/', 303);
      const password = String(request.body.password ?? '');
      const errors: Record<string, string> = {};
      const problem = passwordProblem(password, { username: user.username, minLength: app.config.passwordMinLength });
      if (problem) errors.password = problem;
      else if (password !== String(request.body.password_confirm ?? '')) {
        errors.password_confirm = 'The two passwords do not match.';
      }
      if (Object.keys(errors).length > 0) return reply.code(422).render('auth/password-reset', { errors, minLength: app.config.passwordMinLength });
      await changeOwnPassword(app.db, actorOf(request), user.id, password, request.session.sessionId);
      request.session.flash = { type: 'success', message: 'Your new password is set.' };
      const returnTo = safeReturnPath(request.session.returnTo);
      delete request.session.returnTo;
      return reply.redirect(returnTo, 303);
    },
  );
}

/**
 * Logs the request's client in: a new session id (the pre-login one is destroyed, so a
 * planted or stolen anonymous cookie is worthless) and a new CSRF token.
 */
async function startAuthenticatedSession(request: FastifyRequest, userId: string) {
  await request.session.regenerate();
  request.session.userId = userId;
  request.session.ip = request.ip;
  request.session.userAgent = request.headers['user-agent'] ?? '';
  request.session.lastSeen = Date.now();
  csrfToken(request);
}
