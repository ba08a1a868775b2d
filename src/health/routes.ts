import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { HealthResponses } from '../schemas/api-responses.js';

export default async function healthRoutes(app: FastifyInstance) {
  app.get(
    '/healthz',
    { schema: { response: HealthResponses }, config: { public: true, allowPlainHttp: true } },
    async (_request, reply) => {
      try {
        await app.db.execute(sql`select 1`);
        return { status: 'ok', database: 'ok' };
      } catch (error) {
        app.log.error({ err: error }, 'health check: database unreachable');
        return reply.code(503).send({ status: 'error', database: 'unreachable' });
      }
    },
  );
}
