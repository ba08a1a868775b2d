import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { EmptyForm, TwoFactorCodeForm, TwoFactorRemoveForm } from '../schemas/profile.js';
import QRCode from 'qrcode';
import { actorOf, recordAudit } from '../audit/audit-log.js';
import { verifyPassword } from '../security/passwords.js';
import {
  confirmEnrollment,
  enrollmentDetails,
  startEnrollment,
  twoFactorStatus,
  verifySecondFactor,
} from '../auth/two-factor-commands.js';
import type { User } from '../db/schema.js';
import { clearTwoFactor } from '../users/users-commands.js';
import { findUserById } from '../users/users-queries.js';
import { noticeFor, takeNotice } from './notices.js';

const DURING_ENROLLMENT = { allowDuringTwoFactorEnrollment: true } as const;

const twoFactorRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, secretBox } = app;
  const me = async (reply: FastifyReply): Promise<User> => (await findUserById(db, reply.request.currentUser!.id))!;

  async function renderStatus(reply: FastifyReply, extra: Record<string, unknown> = {}) {
    const user = await me(reply);
    return reply.render('profile/two-factor', {
      user,
      status: await twoFactorStatus(db, user),
      mustEnroll: reply.request.session.mustEnrollTwoFactor === true,
      errors: {},
      notice: takeNotice(reply.request),
      ...extra,
    });
  }

  async function renderEnroll(reply: FastifyReply, user: User, error: string | null) {
    const details = enrollmentDetails(secretBox, user)!;
    // The secret shown in groups of four, as authenticator apps accept it typed in.
    return reply.render('profile/two-factor-enroll', {
      secret: details.secret,
      secretGroups: details.secret.match(/.{1,4}/g)!.join(' '),
      error,
    });
  }

  app.get('/profile/2fa', { config: DURING_ENROLLMENT }, async (_request, reply) => renderStatus(reply));

  app.post(
    '/profile/2fa/enroll/start',
    { schema: { body: EmptyForm }, config: DURING_ENROLLMENT },
    async (request, reply) => {
      const user = await me(reply);
      const status = await twoFactorStatus(db, user);
      if (user.twoFactorEnabled) return reply.redirect('/profile/2fa', 303);
      if (!status.selfEnrollment && !status.required) {
        return reply.code(403).render('errors/error', {
          title: 'Not allowed',
          message: 'Your groups do not allow enrolling two-factor authentication yourself.',
        });
      }
      await startEnrollment(db, secretBox, user);
      return reply.redirect('/profile/2fa/enroll', 303);
    },
  );

  app.get('/profile/2fa/enroll', { config: DURING_ENROLLMENT }, async (_request, reply) => {
    const user = await me(reply);
    if (user.twoFactorEnabled || !user.twoFactorSecret) return reply.redirect('/profile/2fa', 303);
    return renderEnroll(reply, user, null);
  });

  // The QR code is drawn on the server, so enrolling needs no JavaScript.
  app.get('/profile/2fa/qr.png', { config: DURING_ENROLLMENT }, async (_request, reply) => {
    const user = await me(reply);
    const details = user.twoFactorEnabled ? null : enrollmentDetails(secretBox, user);
    if (!details) return reply.code(404).send();
    const png = await QRCode.toBuffer(details.uri, { type: 'png', margin: 2, scale: 6, errorCorrectionLevel: 'M' });
    return reply.header('Cache-Control', 'no-store').type('image/png').send(png);
  });

  app.post(
    '/profile/2fa/enroll',
    { schema: { body: TwoFactorCodeForm }, config: DURING_ENROLLMENT },
    async (request, reply) => {
      const user = await me(reply);
      if (user.twoFactorEnabled || !user.twoFactorSecret) return reply.redirect('/profile/2fa', 303);
      const codes = await confirmEnrollment(db, secretBox, actorOf(request), user, request.body.code ?? '', app.now());
      if (!codes)
        return renderEnroll(
          reply.code(422),
          user,
          'That code is not right. Check the time on your device and try the current code.',
        );
      delete request.session.mustEnrollTwoFactor;
      // Shown once, in this response: the codes are stored only as hashes.
      return reply.header('Cache-Control', 'no-store').render('profile/recovery-codes', { codes });
    },
  );

  app.post('/profile/2fa/remove', { schema: { body: TwoFactorRemoveForm } }, async (request, reply) => {
    const user = await me(reply);
    const status = await twoFactorStatus(db, user);
    if (!user.twoFactorEnabled) return reply.redirect('/profile/2fa', 303);
    if (status.required) {
      return renderStatus(reply.code(409), {
        errors: { remove: 'Your group requires two-factor authentication, so it cannot be removed.' },
      });
    }
    const errors: Record<string, string> = {};
    if (!user.passwordHash || !(await verifyPassword(user.passwordHash, request.body.password ?? ''))) {
      errors.password = 'This is not your current password.';
    } else {
      const factor = await verifySecondFactor(
        db,
        secretBox,
        actorOf(request),
        user,
        request.body.code ?? '',
        app.now(),
      );
      if (!factor.ok) errors.code = 'Invalid or already used code.';
    }
    if (Object.keys(errors).length > 0) return renderStatus(reply.code(422), { errors });
    await db.transaction(async (tx) => {
      await clearTwoFactor(tx, user.id);
      await recordAudit(tx, actorOf(request), {
        action: 'authn_2fa_removed',
        target: { type: 'user', id: user.id, name: user.username },
        changes: { two_factor_enabled: { old: true, new: false } },
      });
    });
    noticeFor(request, 'two-factor', 'Two-factor authentication removed.');
    return reply.redirect('/profile/2fa', 303);
  });
};

export default twoFactorRoutes;
