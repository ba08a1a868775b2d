import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Problem, ProblemKind } from '../security/result.js';

// One mapping from a command's Problem to an HTTP answer: the status, the error page (or the
// alert fragment for htmx), and the Developer API's answer. Commands audit their own refusals,
// so nothing here records anything (see docs/architecture.md, "Results and problems").

declare module 'fastify' {
  interface FastifyReply {
    /** Answers a command's Problem with its status and the error page (an alert for htmx). */
    problemPage(problem: Problem, title?: string): Promise<FastifyReply>;
    /** Answers 404 with the page saying what is missing. */
    notFoundPage(title: string, message?: string): Promise<FastifyReply>;
    /**
     * The confirm step before deleting anything (views/confirm-delete.eta); with the Problem of a
     * refused delete, the same step again with its status and message.
     */
    confirmDelete(subject: DeleteSubject, problem?: Problem): Promise<FastifyReply>;
  }
}

/** What the confirm-delete step names: "Delete <kind> <name>?", its crumbs and what follows. */
export interface DeleteSubject {
  /** Lower case, as in "Delete user alice?": 'user', 'group', 'workspace', 'API key', 'file mapping'. */
  kind: string;
  name: string;
  listUrl: string;
  listLabel: string;
  /** The entity's page; the form posts to `${itemUrl}/delete`. */
  itemUrl: string;
  /** What else goes with it, said before "This cannot be undone." */
  consequences: string;
}

/** The status of a Problem on a page or a fragment: 422 for a form to correct. */
export const PAGE_STATUS: Record<ProblemKind, number> = { invalid: 422, not_found: 404, conflict: 409, forbidden: 403 };

/** The status of a Problem in the Developer API (Kasm's clients expect 400 for bad input). */
export const API_STATUS: Record<ProblemKind, number> = { invalid: 400, not_found: 404, conflict: 409, forbidden: 403 };

/** The Developer API's answer for a Problem: Kasm's `error_message` body. */
export const apiAnswerOf = (problem: Problem) => ({
  status: API_STATUS[problem.kind],
  body: { error_message: problem.message },
});

/**
 * Loads the `:id` entity of a route once, before its handler, and answers the 404 page when it
 * does not exist: `{ preHandler: user.load }`, then `user.of(request)` in the handler.
 */
export function entityLoader<T>(
  missing: { title: string; message: string },
  find: (id: string, request: FastifyRequest) => Promise<T | null | undefined>,
) {
  const loaded = new WeakMap<FastifyRequest, T>();
  /** The entity, or null once the 404 page is answered. */
  async function loadOr404(request: FastifyRequest, reply: FastifyReply): Promise<T | null> {
    const id = (request.params as { id?: string }).id;
    const entity = id === undefined ? null : await find(id, request);
    if (entity === null || entity === undefined) {
      await reply.notFoundPage(missing.title, missing.message);
      return null;
    }
    loaded.set(request, entity);
    return entity;
  }
  const load: preHandlerAsyncHookHandler = async function (request, reply) {
    await loadOr404(request, reply);
  };
  return {
    load,
    /** For a hook that is not a route's preHandler (a plugin's loader callback): the same load and 404. */
    loadOr404,
    /** The entity `load` found for this request (only in a route that runs `load`). */
    of(request: FastifyRequest): T {
      const entity = loaded.get(request);
      if (entity === undefined) throw new Error(`entityLoader: ${missing.title}: the route does not run load`);
      return entity;
    },
  };
}
