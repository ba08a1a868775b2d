import crypto from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EmptyForm, PasswordChangeForm, ProfileSettingForm, ProfileSettingParams, SessionHandleParams } from '../schemas/profile.js';
import { actorOf } from '../audit/audit-log.js';
import { passwordProblem, SAME_PASSWORD_MESSAGE } from '../security/password-policy.js';
import { verifyPassword } from '../security/passwords.js';
import { describeUserSource, formatUserSetting, parseUserSetting, themeOf, userSettingByKey, userSettingControl } from '../settings/user-settings.js';
import { findUserById } from '../users/users-repository.js';
import { changeOwnPassword } from '../users/users-service.js';
import { endOtherOwnSessions, endOwnSession, sessionsOfUser } from '../sessions/sessions-repository.js';
import { effectiveSettingsOfUser, saveUserSetting, type UserEffectiveSettings } from '../users/user-settings-repository.js';
import { workspaceSessionsOfUser } from '../workspaces/workspace-sessions-repository.js';
import { twoFactorStatus } from '../auth/two-factor-service.js';

/** A session's handle in pages and URLs: never the session id itself, which is a credential. */
export function sessionHandle(sid: string): string {
  return crypto.createHash('sha256').update(sid).digest('hex').slice(0, 24);
}

function browserName(userAgent: string): string {
  const match = /(Edg|Firefox|Chrome|Chromium|Safari|curl)\/[\d.]+/.exec(userAgent);
  return match ? match[0].replace('Edg/', 'Edge/') : userAgent.slice(0, 60) || 'Unknown';
}

const profileRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { db, config } = app;
  const selfActor = (request: FastifyRequest) => ({ ...actorOf(request), id: request.currentUser!.id });

  async function renderProfile(reply: FastifyReply, extra: Record<string, unknown> = {}) {
    const request = reply.request;
    const user = (await findUserById(db, request.currentUser!.id))!;
    const [effective, sessionRows, twoFactor, launches] = await Promise.all([
      effectiveSettingsOfUser(db, user.id),
      sessionsOfUser(db, user.id),
      twoFactorStatus(db, user),
      workspaceSessionsOfUser(db, user.id),
    ]);
    return reply.render('profile/index', {
      user,
      theme: themeOf(effective.profile), // already at hand: spares the layout looking it up again
      rows: settingRows(effective),
      launches,
      mayEndLaunches: effective.settings.get('allow_kasm_delete')!.value === true,
      sessions: sessionRows.map((s) => ({
        ...s,
        handle: sessionHandle(s.sid),
        current: s.sid === request.session.sessionId,
        browser: browserName(s.userAgent),
      })),
      twoFactor,
      passwordErrors: {},
      minLength: config.passwordMinLength,
      ...extra,
    });
  }

  /** The profile's setting rows; `failed` keeps what was typed into one row, with its error. */
  function settingRows(effective: UserEffectiveSettings, failed?: { key: string; error: string; entered: string }) {
    const { names, choices } = effective.workspaces;
    return effective.profile.map(({ setting, value, source, own }) => {
      const error = failed?.key === setting.key ? failed : null;
      return {
        ...setting,
        own,
        display: formatUserSetting(setting, value, names),
        source: describeUserSource(source),
        formValue: error ? error.entered : value === null ? '' : String(value),
        control: userSettingControl(setting, choices),
        error: error?.error ?? null,
      };
    });
  }

  app.get('/profile', async (_request, reply) => renderProfile(reply));

  app.post('/profile/settings/:key', { schema: { params: ProfileSettingParams, body: ProfileSettingForm } }, async (request, reply) => {
    const setting = userSettingByKey(request.params.key);
    if (!setting) return reply.code(404).render('errors/error', { title: 'Unknown setting', message: 'There is no such profile setting.' });
    const user = request.currentUser!;
    const reset = request.body.action === 'reset';
    const raw = request.body.value ?? '';
    const before = await effectiveSettingsOfUser(db, user.id);
    const parsed = reset ? null : parseUserSetting(setting, raw, (id) => before.workspaces.usable.has(id));
    if (parsed && !parsed.ok) {
      const rows = settingRows(before, { key: setting.key, error: parsed.error, entered: raw });
      reply.code(422);
      if (request.wantsFragment()) return reply.render('profile/_setting-row', { row: rows.find((r) => r.key === setting.key) });
      return renderProfile(reply, { rows });
    }
    await saveUserSetting(db, actorOf(request), { id: user.id, username: user.username }, setting.key, parsed ? parsed.value : undefined);
    const after = await effectiveSettingsOfUser(db, user.id);
    const row = settingRows(after).find((r) => r.key === setting.key)!;
    const message = reset ? `${setting.label} now follows your groups: ${row.display}.` : `${setting.label} saved.`;
    if (request.wantsFragment()) {
      // A new theme must redraw the whole page; other settings only change their row.
      if (setting.key === 'theme') return reply.header('HX-Refresh', 'true').send('');
      return reply.render('profile/_setting-row', { row, saved: message });
    }
    request.session.flash = { type: 'success', message };
    return reply.redirect(`/profile#setting-${setting.key}`, 303);
  });

  app.post('/profile/password', { schema: { body: PasswordChangeForm } }, async (request, reply) => {
    const user = (await findUserById(db, request.currentUser!.id))!;
    if (user.realm !== 'local' || !user.passwordHash) {
      return reply.code(422).render('errors/error', { title: 'Password', message: `Your password is managed by your identity provider (${user.realm}).` });
    }
    const current = request.body.current_password ?? '';
    const password = request.body.password ?? '';
    const errors: Record<string, string> = {};
    if (!(await verifyPassword(user.passwordHash, current))) errors.current_password = 'This is not your current password.';
    const problem = passwordProblem(password, { username: user.username, minLength: config.passwordMinLength });
    if (problem) errors.password = problem;
    else if (password === current) errors.password = SAME_PASSWORD_MESSAGE;
    else if (password !== (request.body.password_confirm ?? '')) errors.password_confirm = 'The two passwords do not match.';
    if (Object.keys(errors).length > 0) {
      reply.code(422);
      return renderProfile(reply, { passwordErrors: errors });
    }
    await changeOwnPassword(db, actorOf(request), user.id, password, request.session.sessionId);
    request.session.flash = { type: 'success', message: 'Password changed. Your other sessions were logged out.' };
    return reply.redirect('/profile#password', 303);
  });

  app.post('/profile/sessions/:handle/end', { schema: { params: SessionHandleParams, body: EmptyForm } }, async (request, reply) => {
    const own = await sessionsOfUser(db, request.currentUser!.id);
    const target = own.find((s) => sessionHandle(s.sid) === request.params.handle);
    if (target?.sid === request.session.sessionId) {
      await request.session.destroy(); // logging out this very session is a logout
      return reply.redirect('/login', 303);
    }
    const ended = target ? await endOwnSession(db, selfActor(request), target.sid) : false;
    if (request.wantsFragment()) return ended ? reply.send('') : reply.code(404).send('');
    request.session.flash = ended ? { type: 'success', message: 'That session was logged out.' } : { type: 'error', message: 'That session had already ended.' };
    return reply.redirect('/profile#sessions', 303);
  });

  app.post('/profile/sessions/end-others', { schema: { body: EmptyForm } }, async (request, reply) => {
    const count = await endOtherOwnSessions(db, selfActor(request), request.session.sessionId);
    request.session.flash = { type: 'success', message: count === 1 ? '1 other session was logged out.' : `${count} other sessions were logged out.` };
    return reply.redirect('/profile#sessions', 303);
  });
};

export default profileRoutes;
