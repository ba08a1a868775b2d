import type { FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { PAGE_STATUS, type DeleteSubject } from '../http/problems.js';
import type { Problem, ProblemKind } from '../security/result.js';

// The reply decorators of http/problems.ts: a Problem's page, the 404 page, the confirm-delete step.

const TITLE: Record<ProblemKind, string> = {
  invalid: 'Cannot do that',
  not_found: 'Not found',
  conflict: 'Cannot do that',
  forbidden: 'Not allowed',
};

export default fp(async (app) => {
  app.decorateReply('problemPage', function (this: FastifyReply, problem: Problem, title?: string) {
    return this.code(PAGE_STATUS[problem.kind]).render('errors/error', {
      title: title ?? TITLE[problem.kind],
      message: problem.message,
    });
  });
  app.decorateReply('confirmDelete', function (this: FastifyReply, subject: DeleteSubject, problem?: Problem) {
    if (problem) this.code(PAGE_STATUS[problem.kind]);
    return this.render('confirm-delete', { ...subject, error: problem?.message ?? null });
  });
  app.decorateReply('notFoundPage', function (this: FastifyReply, title: string, message?: string) {
    return this.code(404).render('errors/error', { title, message: message ?? 'This does not exist (any more).' });
  });
});
