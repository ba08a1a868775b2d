import type { FastifyRequest } from 'fastify';

// A message after a profile save belongs in the section that changed, where the redirect (or
// htmx) puts the eye — not at the top of the page, off-screen.

export type Notice = { type: 'success' | 'error' | 'info' | 'warning'; message: string; section?: string };

/** Keeps a message for the next page, in its section (the element id). */
export function noticeFor(request: FastifyRequest, section: string, message: string, type: Notice['type'] = 'success') {
  request.session.flash = { type, message, section };
}

/** The pending message meant for a section, taken here so that the layout does not show it at the top as well. */
export function takeNotice(request: FastifyRequest): Notice | null {
  const flash = request.session.flash;
  if (!flash?.section) return null;
  delete request.session.flash;
  return flash;
}
