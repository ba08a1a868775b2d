import { fileURLToPath } from 'node:url';
import fastifyView from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasPermission, type Permission } from '../security/permissions.js';
import { csrfToken } from './csrf.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** htmx asks for part of the page (HX-Request, not boosted, not a history restore). */
    wantsFragment(): boolean;
  }
  interface FastifyReply {
    /** Renders a page with the layout's common data (user, CSRF token, flash message). */
    render(template: string, data?: Record<string, unknown>): Promise<FastifyReply>;
    /**
     * Renders `fragment` alone when htmx asks for part of the page (HX-Request and not
     * HX-Boosted), else the whole `template`. The same URL serves both, so it varies on HX-Request.
     */
    renderPageOrFragment(template: string, fragment: string, data: Record<string, unknown>): Promise<FastifyReply>;
  }
}

export const viewsDir = fileURLToPath(new URL('../../views', import.meta.url));

/**
 * Eta, resolving each template name to its file once: Eta resolves it again on every render and
 * include (a JSON.stringify and path joins each time), and the views never move while we run.
 */
function etaWithResolvedPaths(cache: boolean): Eta {
  const eta = new Eta({ views: viewsDir, cache });
  if (!cache) return eta; // development: read every template afresh
  const resolveEachTime = eta.resolvePath;
  const resolved = new Map<string, string>();
  eta.resolvePath = function (template, options) {
    const key = `${options?.filepath ?? ''}\0${template}`;
    let path = resolved.get(key);
    if (path === undefined) {
      path = resolveEachTime.call(this, template, options);
      resolved.set(key, path);
    }
    return path;
  };
  return eta;
}

const ERROR_PAGE = 'errors/error';
const ERROR_FRAGMENT = 'errors/_alert';

export function wantsFragment(request: FastifyRequest): boolean {
  const headers = request.headers;
  // A history restore after a cache miss needs the whole page back, like a boosted request.
  return (
    headers['hx-request'] === 'true' &&
    headers['hx-boosted'] !== 'true' &&
    headers['hx-history-restore-request'] !== 'true'
  );
}

/** A time as every page shows it: to the minute, in UTC; "—" for none. */
export function formatTime(date: Date | null | undefined): string {
  return date ? `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC` : '—';
}

/** A user's Last Session, in the list and on their page alike. */
export function formatLastSession(date: Date | null | undefined): string {
  return date ? formatTime(date) : 'Never';
}

/** A form's field errors as the error summary lists them: each with its field's id (partials/field). */
export function errorItems(
  errors: Record<string, string | null | undefined> | undefined,
): Array<{ id: string; message: string }> {
  return Object.entries(errors ?? {}).flatMap(([name, message]) => (message ? [{ id: `f-${name}`, message }] : []));
}

function commonData(request: FastifyRequest, reply: FastifyReply) {
  const user = request.currentUser;
  const flash = request.session.flash;
  if (flash) delete request.session.flash;
  return {
    currentUser: user,
    can: (permission: Permission) => user !== null && hasPermission(user.permissions, permission),
    csrf: csrfToken(request, reply),
    flash,
    path: request.url,
    formatTime,
    errorItems,
    formatLastSession,
  };
}

export interface ViewsOptions {
  /** Config.templateCache: off in `npm run dev`, so template edits show without a restart. */
  templateCache: boolean;
}

export default fp<ViewsOptions>(async (app, { templateCache }) => {
  await app.register(fastifyView, {
    engine: { eta: etaWithResolvedPaths(templateCache) },
    templates: viewsDir,
    production: templateCache,
  });

  app.decorateRequest('wantsFragment', function (this: FastifyRequest) {
    return wantsFragment(this);
  });

  app.decorateReply(
    'render',
    async function (this: FastifyReply, template: string, data: Record<string, unknown> = {}) {
      // An error answering htmx's request for part of a page would nest a whole page inside that
      // part: it becomes a message in the page's alert region instead, wherever it comes from.
      if (template === ERROR_PAGE && wantsFragment(this.request)) {
        this.header('HX-Retarget', '#htmx-alert').header('HX-Reswap', 'innerHTML');
        template = ERROR_FRAGMENT;
      }
      const user = this.request.currentUser;
      // The effective theme goes on <html> of every page (fragments inherit the page's).
      const fragment = template.split('/').pop()!.startsWith('_');
      const theme = data.theme ?? (user && !fragment ? await user.theme() : 'auto');
      this.type('text/html; charset=utf-8');
      return this.view(template, { ...commonData(this.request, this), ...data, theme });
    },
  );

  app.decorateReply(
    'renderPageOrFragment',
    function (this: FastifyReply, template: string, fragment: string, data: Record<string, unknown>) {
      this.header('Vary', 'HX-Request');
      return this.render(wantsFragment(this.request) ? fragment : template, data);
    },
  );
});
