import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../db/schema.js';
import { findUserById } from '../users/users-queries.js';
import { effectiveSettingsOfUser } from '../users/user-settings-queries.js';
import { twoFactorPolicy } from './two-factor-commands.js';
import { actorOf, recordAudit } from '../audit/audit-log.js';
import { safeReturnPath } from '../security/return-path.js';
import { changeOwnPassword } from '../users/users-commands.js';
import { attemptLogin, attemptSecondFactor, completeLogin } from './login-commands.js';
import { newPasswordErrors, passwordProblem } from '../security/password-policy.js';
import { verifyPassword } from '../security/passwords.js';
import { EmptyForm } from '../schemas/common.js';
import { LoginBody, LoginQuery, PasswordResetBody, SecondFactorBody } from '../schemas/auth.js';

const LOGIN_FAILED = 'Invalid user name or password.';

const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  await app.register(rateLimit, { global: false });

  app.get('/login', { schema: { querystring: LoginQuery }, config: { public: true } }, async (request, reply) => {
    if (request.currentUser) return reply.redirect(safeReturnPath(request.query.next), 303);
    return reply.render('auth/login', {
      values: { username: '' },
      next: safeReturnPath(request.query.next),
      error: null,
    });
  });

  app.post(
    '/login',
    {
      schema: { body: LoginBody },
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
      const username = request.body.username ?? '';
      const password = request.body.password ?? '';
      const next = safeReturnPath(request.body.next);
      const result = await attemptLogin(app.db, app.secretBox, {
        username,
        password,
        ip: request.ip,
        failureMinMs: app.config.loginFailureMinMs,
        maxAttempts: app.config.maxLoginAttempts,
        lockAfter: app.config.lockAfterTemporaryLockouts,
        nowMs: app.now(),
      });
      if (!result.ok) {
        return reply.code(401).render('auth/login', { values: { username }, next, error: LOGIN_FAILED });
      }
      if (result.user.twoFactorEnabled) {
        // Not logged in yet: a fresh session that only remembers whose code to ask for.
        await request.session.regenerate();
        request.session.pendingSecondFactor = { userId: result.user.id, at: app.now(), next };
        return reply.redirect('/login/code', 303);
      }
      return finishLogin(request, reply, result.user, next);
    },
  );

  app.get('/login/code', { config: { public: true } }, async (request, reply) => {
    if (!pendingUserId(request)) return reply.redirect('/login', 303);
    return reply.render('auth/login-code', { error: null });
  });

  app.post(
    '/login/code',
    {
      schema: { body: SecondFactorBody },
      config: { public: true, rateLimit: { max: app.config.loginRateLimit, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const userId = pendingUserId(request);
      const user = userId ? await findUserById(app.db, userId) : undefined;
      if (!user || user.disabled || user.locked) {
        delete request.session.pendingSecondFactor;
        request.session.flash = { type: 'error', message: 'Your login timed out; please log in again.' };
        return reply.redirect('/login', 303);
      }
      const result = await attemptSecondFactor(app.db, app.secretBox, {
        user,
        code: request.body.code ?? '',
        ip: request.ip,
        maxAttempts: app.config.maxLoginAttempts,
        lockAfter: app.config.lockAfterTemporaryLockouts,
        nowMs: app.now(),
      });
      if (!result.ok) return reply.code(401).render('auth/login-code', { error: 'Invalid or already used code.' });
      const next = request.session.pendingSecondFactor!.next;
      delete request.session.pendingSecondFactor;
      return finishLogin(request, reply, result.user, next, { second_factor: true });
    },
  );

  app.post(
    '/logout',
    { schema: { body: EmptyForm }, config: { allowDuringPasswordReset: true, allowDuringTwoFactorEnrollment: true } },
    async (request, reply) => {
      const user = request.currentUser;
      if (user) {
        await recordAudit(app.db, actorOf(request), {
          action: 'authn_logout',
          target: { type: 'user', id: user.id, name: user.username },
        });
      }
      // A fresh anonymous session replaces the old one (which is gone from the store), so the
      // login page can say what happened.
      await request.session.regenerate();
      request.session.flash = { type: 'success', message: 'You have been logged out.' };
      return reply.redirect('/login', 303);
    },
  );

  app.get(
    '/password-reset',
    { config: { allowDuringPasswordReset: true, allowDuringTwoFactorEnrollment: true } },
    async (request, reply) => {
      if (!request.currentUser?.forcePasswordReset) return reply.redirect('/', 303);
      return reply.render('auth/password-reset', { errors: {}, minLength: app.config.passwordMinLength });
    },
  );

  app.post(
    '/password-reset',
    {
      schema: { body: PasswordResetBody },
      config: { allowDuringPasswordReset: true, allowDuringTwoFactorEnrollment: true },
    },
    async (request, reply) => {
      const user = request.currentUser;
      if (!user?.forcePasswordReset) return reply.redirect('/', 303);
      const password = request.body.password ?? '';
      const context = { username: user.username, minLength: app.config.passwordMinLength };
      const currentHash = (await findUserById(app.db, user.id))?.passwordHash;
      // The admin set the current password: keeping it would leave the reset undone.
      const sameAsCurrent =
        !passwordProblem(password, context) && Boolean(currentHash) && (await verifyPassword(currentHash!, password));
      const errors = newPasswordErrors(password, request.body.password_confirm ?? '', { ...context, sameAsCurrent });
      if (Object.keys(errors).length > 0)
        return reply.code(422).render('auth/password-reset', { errors, minLength: app.config.passwordMinLength });
      await changeOwnPassword(app.db, actorOf(request), user.id, password, request.session.sessionId);
      request.session.flash = { type: 'success', message: 'Your new password is set.' };
      const returnTo = safeReturnPath(request.session.returnTo);
      delete request.session.returnTo;
      return reply.redirect(request.session.mustEnrollTwoFactor ? '/profile/2fa' : returnTo, 303);
    },
  );
};

export default authRoutes;

const PENDING_SECOND_FACTOR_MS = 5 * 60 * 1000;

/** The user whose second factor this session waits for (for at most five minutes). */
function pendingUserId(request: FastifyRequest): string | null {
  const pending = request.session.pendingSecondFactor;
  return pending && request.server.now() - pending.at < PENDING_SECOND_FACTOR_MS ? pending.userId : null;
}

/** Every factor checked: the session becomes authenticated, then any unfinished business. */
async function finishLogin(
  request: FastifyRequest,
  reply: FastifyReply,
  user: User,
  next: string,
  details: Record<string, unknown> = {},
) {
  const db = request.server.db;
  await startAuthenticatedSession(request, user.id);
  await completeLogin(db, user, request.ip, request.server.now(), details);
  const [policy, effective] = await Promise.all([twoFactorPolicy(db, user.id), effectiveSettingsOfUser(db, user.id)]);
  if (policy.required && !user.twoFactorEnabled) request.session.mustEnrollTwoFactor = true;
  // Auto Launch Session: straight to the default workspace, unless the login was on the way to a page.
  const autoLaunch = next === '/' && effective.settings.get('auto_login_to_kasm')!.value === true;
  const landing = autoLaunch ? '/go' : next;
  // The redirect's own Fetch Metadata may be missing (older browsers): the session vouches for it.
  if (autoLaunch) request.session.autoLaunchPending = true;
  if (user.forcePasswordReset) {
    request.session.returnTo = landing; // where to go once the new password is set
    return reply.redirect('/password-reset', 303);
  }
  return reply.redirect(request.session.mustEnrollTwoFactor ? '/profile/2fa' : landing, 303);
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
  request.session.lastSeen = request.server.now();
  // The new session has no CSRF token yet: the next page makes one (the old one is gone with it).
}
