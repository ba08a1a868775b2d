import fastifyFormbody from '@fastify/formbody';
import Fastify, {
  type FastifyContextConfig,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifySchema,
  type FastifyServerOptions,
} from 'fastify';
import { actorOf, recordDenied } from './audit/audit-log.js';
import auditRoutes from './audit/routes.js';
import authRoutes from './auth/routes.js';
import { loadSecretKey, SecretBox } from './security/secret-box.js';
import type { Config } from './config.js';
import { NoQuery } from './schemas/common.js';
import type { Database } from './db/client.js';
import groupRoutes from './groups/routes.js';
import healthRoutes from './health/routes.js';
import homeRoutes from './home/routes.js';
import authPlugin from './plugins/auth.js';
import csrfPlugin from './plugins/csrf.js';
import requestTextPlugin from './plugins/request-text.js';
import securityHeaders from './plugins/security-headers.js';
import sessionPlugin from './plugins/session.js';
import staticFiles from './plugins/static-files.js';
import viewsPlugin from './plugins/views.js';
import problemsPlugin from './plugins/problems.js';
import { currentUserSelect, loadCurrentUser, toCurrentUser } from './auth/current-user-queries.js';
import userRoutes from './users/routes.js';
import profileRoutes from './profile/routes.js';
import twoFactorRoutes from './profile/two-factor-routes.js';
import workspaceRoutes from './workspaces/routes.js';
import launchRoutes from './launches/routes.js';
import apiKeyRoutes from './api-keys/routes.js';
import apiRoutes from './api/routes.js';
import identityRoutes from './directories/identity-routes.js';
import directoryRoutes from './directories/routes.js';
import { runDueSyncs } from './directories/directory-sync-schedule.js';

export interface RouteEntry {
  method: string;
  url: string;
  config: FastifyContextConfig;
  /** The route's TypeBox schemas (params, querystring, body), for the tests that walk every route. */
  schema: FastifySchema;
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    config: Config;
    /** Encrypts 2FA secrets at rest. */
    secretBox: SecretBox;
    /** The time in epoch ms: injected by tests, so that time-based rules need no waiting. */
    now(): number;
    /** Every route with its access config: lets a test prove that no route lacks a check. */
    routeIndex: RouteEntry[];
  }
}

export interface BuildOptions {
  config: Config;
  db: Database;
  logger?: FastifyServerOptions['logger'];
  /** The clock (epoch ms); tests pass their own. */
  now?: () => number;
}

/**
 * Fastify ignores a bare hop count (it fails closed), so a count becomes the function that
 * proxy-addr would build: trust the nearest `hops` hops, whoever they are.
 */
function trustProxyOption(setting: Config['trustProxy']) {
  return typeof setting === 'number' ? (_address: string, hop: number) => hop < setting : setting;
}

/** Builds the whole application on an already migrated database (the server and tests share it). */
export async function buildApp({ config, db, logger = false, now = Date.now }: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: 1024 * 1024,
    ajv: {
      // Set once for every route schema: form values arrive as strings ("3" becomes 3, a lone
      // checkbox value becomes a list), fields a schema does not name are dropped, and a value
      // given twice where one is expected is refused rather than silently picked.
      customOptions: { coerceTypes: 'array', removeAdditional: true, useDefaults: true, allErrors: false },
    },
  });
  app.decorate('config', config);
  app.decorate('db', db);
  app.decorate('now', now);
  app.decorate('secretBox', new SecretBox(loadSecretKey(config.secretKey, config.dataDir)));
  app.decorate('routeIndex', [] as RouteEntry[]);
  app.addHook('onRoute', (route) => {
    // Deny by default: a route that declares no query string gets an empty one, so its handler
    // never sees a query key that no schema checked (unknown keys are dropped).
    route.schema = { querystring: NoQuery, ...route.schema };
    // Read config late: plugins' own onRoute hooks (e.g. static files) may still set it.
    for (const method of [route.method].flat()) {
      app.routeIndex.push({
        method,
        url: route.url,
        get config() {
          return route.config ?? {};
        },
        get schema() {
          return route.schema ?? {};
        },
      });
    }
  });

  await app.register(securityHeaders);
  await app.register(fastifyFormbody);
  await app.register(sessionPlugin, { userQuery: { select: currentUserSelect, toUser: toCurrentUser } });
  await app.register(viewsPlugin, { templateCache: config.templateCache });
  await app.register(problemsPlugin);
  // NUL in any string of a request is a 400 before the user is loaded or any handler runs.
  await app.register(requestTextPlugin);
  await app.register(authPlugin, {
    loadUser: (userId) => loadCurrentUser(db, userId),
    recordDenied: (request, reason) =>
      recordDenied(db, actorOf(request), { reason, method: request.method, url: request.url }),
  });
  await app.register(csrfPlugin);
  await app.register(staticFiles);

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.validation && error.validationContext === 'params') return notFound(request, reply); // not an id: no such page
    const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const message =
      status >= 500
        ? 'Something went wrong on our side. Please try again.'
        : error.validation
          ? `This request was not understood: ${error.message}.`
          : error.message;
    if (request.url.startsWith('/api/')) return reply.code(status).send({ error_message: message });
    const title = status === 429 ? 'Slow down' : status === 400 ? 'Bad request' : 'Error';
    return reply.code(status).render('errors/error', { title, message }); // a fragment for htmx (see render)
  });
  const notFound = async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.url.startsWith('/api/')) return reply.code(404).send({ error_message: 'No such API call.' });
    return reply
      .code(404)
      .render('errors/error', { title: 'Page not found', message: 'There is no page at this address.' });
  };
  app.setNotFoundHandler(notFound);

  await app.register(healthRoutes);
  await app.register(authRoutes);
  await app.register(homeRoutes);
  await app.register(userRoutes);
  await app.register(identityRoutes);
  await app.register(groupRoutes);
  await app.register(auditRoutes);
  await app.register(profileRoutes);
  await app.register(twoFactorRoutes);
  await app.register(workspaceRoutes);
  await app.register(launchRoutes);
  await app.register(apiKeyRoutes);
  await app.register(apiRoutes);
  await app.register(directoryRoutes);
  if (config.directorySyncScheduler) startDirectorySyncScheduler(app, now);
  return app;
}

/** Runs the due directory syncs once a minute (docs/rules.md#directory-sync), one round at a time. */
function startDirectorySyncScheduler(app: FastifyInstance, now: () => number): void {
  let round: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (round) return; // the last round is still syncing
    round = runDueSyncs(app.db, app.secretBox, now())
      .then((results) => {
        for (const { providerId, result } of results)
          if (!result.ok)
            app.log.warn({ providerId, problem: result.problem.message }, 'scheduled directory sync refused');
      })
      .catch((error: unknown) => app.log.error({ err: error }, 'scheduled directory sync failed'))
      .finally(() => {
        round = null;
      });
  }, 60_000);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await round; // never close the database under a sync
  });
}
