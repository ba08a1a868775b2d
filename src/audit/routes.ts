import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AuditQuery } from '../schemas/audit.js';
import { AUDIT_ACTIONS, listAuditEvents, parseAuditFilter, type AuditFilter } from './audit-queries.js';

function pageUrl(filter: AuditFilter, before: number | null): string {
  const params = new URLSearchParams();
  for (const key of ['actor', 'target', 'action', 'from', 'to'] as const) if (filter[key]) params.set(key, filter[key]);
  if (before) params.set('before', String(before));
  const query = params.toString();
  return query ? `/admin/audit?${query}` : '/admin/audit';
}

const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/admin/audit',
    { schema: { querystring: AuditQuery }, config: { permission: 'audit_view' } },
    async (request, reply) => {
      const { filter, errors } = parseAuditFilter(request.query);
      const { rows, nextBefore } = await listAuditEvents(app.db, filter);
      return reply.code(Object.keys(errors).length > 0 ? 422 : 200).renderPageOrFragment('audit/index', 'audit/_rows', {
        filter,
        errors,
        rows,
        actions: AUDIT_ACTIONS,
        newerUrl: filter.before ? pageUrl(filter, null) : null,
        olderUrl: nextBefore ? pageUrl(filter, nextBefore) : null,
      });
    },
  );
};

export default auditRoutes;
