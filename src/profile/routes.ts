import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  EmptyForm,
  PasswordChangeForm,
  PROFILE_SETTING_FIELDS,
  ProfileSettingForm,
  ProfileSettingParams,
  ProfileSettingsForm,
  SessionHandleParams,
} from '../schemas/profile.js';
import { actorOf } from '../audit/audit-log.js';
import { newPasswordErrors } from '../security/password-policy.js';
import { verifyPassword } from '../security/passwords.js';
import {
  describeUserSource,
  formatUserSetting,
  formValueOf,
  profileSavedMessage,
  readProfileForm,
  resetLabelOf,
  themeOf,
  USER_SETTINGS,
  userSettingByKey,
  userSettingControl,
} from '../settings/user-settings.js';
import { findUserById } from '../users/users-queries.js';
import { changeOwnPassword } from '../users/users-commands.js';
import { endOtherOwnSessions, endOwnSession, refuseForeignSession } from '../sessions/sessions-commands.js';
import { ownerOfSessionHandle, sessionHandle, sessionsOfUser } from '../sessions/sessions-queries.js';
import { effectiveSettingsOfUser, type UserEffectiveSettings } from '../users/user-settings-queries.js';
import { saveUserSettings } from '../users/user-settings-commands.js';
import { workspaceSessionsOfUser } from '../workspaces/workspace-sessions-queries.js';
import { twoFactorStatus } from '../auth/two-factor-commands.js';
import { noticeFor, takeNotice, type Notice } from './notices.js';

function browserName(userAgent: string): string {
  const match = /(Edg|Firefox|Chrome|Chromium|Safari|curl)\/[\d.]+/.exec(userAgent);
  return match ? match[0].replace('Edg/', 'Edge/') : userAgent.slice(0, 60) || 'Unknown';
}

// The settings form names each field by its key: the form schema must list every profile setting.
for (const setting of USER_SETTINGS) {
  if (!(PROFILE_SETTING_FIELDS as readonly string[]).includes(setting.key))
    throw new Error(`profile form lacks a field for ${setting.key}`);
}

const PROFILE_CRUMBS = [
  ['/profile', 'Profile'],
  ['/profile#sessions', 'Sessions'],
];

const profileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const selfActor = (request: FastifyRequest) => ({ ...actorOf(request), id: request.currentUser!.id });

  async function sessionView(request: FastifyRequest) {
    const rows = await sessionsOfUser(db, request.currentUser!.id);
    const sessions = rows.map((s) => describeSession(s, request.session.sessionId));
    const others = sessions.length - 1;
    return {
      sessions,
      endOthersQuestion: `Log out your ${others === 1 ? 'other session' : `${others} other sessions`}?`,
    };
  }

  async function renderProfile(reply: FastifyReply, extra: Record<string, unknown> = {}) {
    const request = reply.request;
    const user = (await findUserById(db, request.currentUser!.id))!;
    const [effective, sessions, twoFactor, launches] = await Promise.all([
      effectiveSettingsOfUser(db, user.id),
      sessionView(request),
      twoFactorStatus(db, user),
      workspaceSessionsOfUser(db, user.id),
    ]);
    return reply.render('profile/index', {
      user,
      theme: themeOf(effective.profile), // already at hand: spares the layout looking it up again
      rows: settingRows(effective),
      settingErrors: [],
      launches,
      mayEndLaunches: effective.settings.get('allow_kasm_delete')!.value === true,
      ...sessions,
      twoFactor,
      passwordErrors: {},
      minLength: config.passwordMinLength,
      notice: takeNotice(request),
      ...extra,
    });
  }

  /** The profile's setting rows; after a refused save, `entered` keeps what was typed and `errors` says what is wrong. */
  function settingRows(
    effective: UserEffectiveSettings,
    entered: Readonly<Record<string, string | undefined>> = {},
    errors: ReadonlyMap<string, string> = new Map(),
  ) {
    const { names, choices } = effective.workspaces;
    return effective.profile.map(({ setting, value, source, own }) => ({
      ...setting,
      own,
      display: formatUserSetting(setting, value, names),
      source: describeUserSource(source),
      formValue: entered[setting.key] ?? formValueOf(value),
      control: userSettingControl(setting, choices),
      error: errors.get(setting.key) ?? null,
      resetLabel: resetLabelOf(setting),
    }));
  }

  /** The summary of a refused settings form: each error linked to its field. */
  const errorItems = (errors: ReadonlyMap<string, string>) =>
    [...errors].map(([key, message]) => ({ id: `s-${key}`, message }));

  app.get('/profile', async (_request, reply) => renderProfile(reply));

  // The settings form without JS: every changed row at once, in one transaction; nothing is
  // saved while any field is refused.
  app.post('/profile/settings', { schema: { body: ProfileSettingsForm } }, async (request, reply) => {
    const user = request.currentUser!;
    const before = await effectiveSettingsOfUser(db, user.id);
    const fields = request.body as Record<string, string | undefined>;
    const { changes, errors } = readProfileForm(before.profile, fields, (id) => before.workspaces.usable.has(id), {
      reset: request.body.reset,
    });
    if (errors.size > 0) {
      return renderProfile(reply.code(422), {
        rows: settingRows(before, fields, errors),
        settingErrors: errorItems(errors),
      });
    }
    await saveUserSettings(db, actorOf(request), { id: user.id, username: user.username }, changes);
    const after = await effectiveSettingsOfUser(db, user.id);
    noticeFor(request, 'settings', profileSavedMessage(changes, after.profile, after.workspaces.names));
    // A boosted submit swaps only the body: a new theme (on <html>) needs the page reloaded.
    if (request.headers['hx-request'] === 'true' && changes.has('theme'))
      return reply.header('HX-Refresh', 'true').send('');
    return reply.redirect('/profile#settings', 303);
  });

  // One row on its own: its Save or reset button with JS (the row comes back in place), or a
  // plain form posting `value` / `action`.
  app.post(
    '/profile/settings/:key',
    { schema: { params: ProfileSettingParams, body: ProfileSettingForm } },
    async (request, reply) => {
      const setting = userSettingByKey(request.params.key);
      if (!setting) return reply.notFoundPage('Unknown setting', 'There is no such profile setting.');
      const user = request.currentUser!;
      const body = request.body as Record<string, string | undefined>;
      const reset = request.body.action === 'reset' || request.body.reset === setting.key;
      const fields = { [setting.key]: request.body.value ?? body[setting.key] ?? '' };
      const before = await effectiveSettingsOfUser(db, user.id);
      const { changes, errors } = readProfileForm(before.profile, fields, (id) => before.workspaces.usable.has(id), {
        only: setting.key,
        reset: reset ? setting.key : undefined,
      });
      if (errors.size > 0) {
        const rows = settingRows(before, fields, errors);
        reply.code(422);
        if (request.wantsFragment())
          return reply.render('profile/_setting-row', {
            row: rows.find((r) => r.key === setting.key),
            saved: null,
            focusError: true,
          });
        return renderProfile(reply, { rows, settingErrors: errorItems(errors) });
      }
      await saveUserSettings(db, actorOf(request), { id: user.id, username: user.username }, changes);
      const after = await effectiveSettingsOfUser(db, user.id);
      const message = profileSavedMessage(changes, after.profile, after.workspaces.names);
      if (request.wantsFragment()) {
        // A new theme must redraw the whole page; its message waits in the theme row.
        if (setting.key === 'theme') {
          noticeFor(request, `setting-${setting.key}`, message);
          return reply.header('HX-Refresh', 'true').send('');
        }
        const row = settingRows(after).find((r) => r.key === setting.key)!;
        return reply.render('profile/_setting-row', { row, saved: message });
      }
      noticeFor(request, `setting-${setting.key}`, message);
      return reply.redirect(`/profile#setting-${setting.key}`, 303);
    },
  );

  app.post('/profile/password', { schema: { body: PasswordChangeForm } }, async (request, reply) => {
    const user = (await findUserById(db, request.currentUser!.id))!;
    if (user.realm !== 'local' || !user.passwordHash) {
      return reply.code(422).render('errors/error', {
        title: 'Password',
        message: `Your password is managed by your identity provider (${user.realm}).`,
      });
    }
    const current = request.body.current_password ?? '';
    const password = request.body.password ?? '';
    const errors: Record<string, string> = {};
    if (!(await verifyPassword(user.passwordHash, current)))
      errors.current_password = 'This is not your current password.';
    Object.assign(
      errors,
      newPasswordErrors(password, request.body.password_confirm ?? '', {
        username: user.username,
        minLength: config.passwordMinLength,
        sameAsCurrent: password === current,
      }),
    );
    if (Object.keys(errors).length > 0) return renderProfile(reply.code(422), { passwordErrors: errors });
    await changeOwnPassword(db, actorOf(request), user.id, password, request.session.sessionId);
    noticeFor(request, 'password', 'Password changed. Your other sessions were logged out.');
    return reply.redirect('/profile#password', 303);
  });

  /** After ending sessions: the sessions section in place for htmx, else the profile at that section. */
  async function afterEnding(request: FastifyRequest, reply: FastifyReply, notice: Notice) {
    if (request.wantsFragment())
      return reply.render('profile/_sessions', {
        ...(await sessionView(request)),
        notice: { ...notice, section: 'sessions' },
      });
    noticeFor(request, 'sessions', notice.message, notice.type);
    return reply.redirect('/profile#sessions', 303);
  }

  // Ending a session, without JS: this confirm step first (htmx asks the same question itself).
  app.get('/profile/sessions/:handle/end', { schema: { params: SessionHandleParams } }, async (request, reply) => {
    const { sessions } = await sessionView(request);
    const target = sessions.find((s) => s.handle === request.params.handle);
    if (!target) return afterEnding(request, reply, { type: 'error', message: 'That session had already ended.' });
    return reply.render('confirm-step', {
      question: target.question,
      consequences: target.current
        ? 'This is the session you are using: you will be logged out.'
        : 'That browser is logged out and must log in again.',
      action: `/profile/sessions/${target.handle}/end`,
      label: 'End Session',
      cancelUrl: '/profile#sessions',
      crumbs: PROFILE_CRUMBS,
    });
  });

  app.post(
    '/profile/sessions/:handle/end',
    { schema: { params: SessionHandleParams, body: EmptyForm } },
    async (request, reply) => {
      const own = await sessionsOfUser(db, request.currentUser!.id);
      const target = own.find((s) => sessionHandle(s.sid) === request.params.handle);
      if (target?.sid === request.session.sessionId) {
        await request.session.destroy(); // logging out this very session is a logout
        return reply.redirect('/login', 303);
      }
      const ended = target ? await endOwnSession(db, selfActor(request), target.sid) : false;
      if (!target) {
        // Somebody else's session is refused in the audit log; the answer is the same as for
        // one that had already ended, so that a handle tells nobody whether it is live.
        const owner = await ownerOfSessionHandle(db, request.params.handle);
        if (owner && owner.id !== request.currentUser!.id) await refuseForeignSession(db, actorOf(request), owner);
      }
      if (!ended) reply.code(404);
      return afterEnding(
        request,
        reply,
        ended
          ? { type: 'success', message: 'That session was logged out.' }
          : { type: 'error', message: 'That session had already ended.' },
      );
    },
  );

  app.get('/profile/sessions/end-others', async (request, reply) => {
    const { sessions, endOthersQuestion } = await sessionView(request);
    if (sessions.length <= 1)
      return afterEnding(request, reply, { type: 'info', message: 'You have no other sessions.' });
    return reply.render('confirm-step', {
      question: endOthersQuestion,
      consequences: 'Every other browser logged in as you must log in again. This session stays.',
      action: '/profile/sessions/end-others',
      label: 'Log Out Other Sessions',
      cancelUrl: '/profile#sessions',
      crumbs: PROFILE_CRUMBS,
    });
  });

  app.post('/profile/sessions/end-others', { schema: { body: EmptyForm } }, async (request, reply) => {
    const count = await endOtherOwnSessions(db, selfActor(request), request.session.sessionId);
    return afterEnding(request, reply, {
      type: 'success',
      message: count === 1 ? '1 other session was logged out.' : `${count} other sessions were logged out.`,
    });
  });
};

/** A login session as the profile lists it: never its id, but a handle; and the question ending it asks. */
function describeSession(s: Awaited<ReturnType<typeof sessionsOfUser>>[number], currentSid: string) {
  const browser = browserName(s.userAgent);
  const current = s.sid === currentSid;
  return {
    ...s,
    handle: sessionHandle(s.sid),
    current,
    browser,
    question: current ? 'End this session (the one you are using)?' : `End the session from ${s.ip} (${browser})?`,
  };
}

export default profileRoutes;
