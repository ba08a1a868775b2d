// The Developer API over HTTP (docs/rules.md#developer-api): POST /api/public/<call> for each call of API_CALLS,
// authenticated per call by an API key (never by a browser session), each with its body
// schema; the OpenAPI document and the reference page are made from the same table.
import rateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { recordDenied } from '../audit/audit-log.js';
import { type Actor } from '../security/actor.js';
import { authenticateApiKey, type AuthenticatedKey } from '../api-keys/api-keys-commands.js';
import { apiCredentialsOf } from '../security/api-key-secret.js';
import { hasPermission } from '../security/permissions.js';
import { API_ANSWERS, apiResponseSchemas, OpenApiDocument } from '../schemas/api-responses.js';
import { API_CALLS, apiError, isReadCall, type ApiAnswer, type ApiCall } from './api-calls.js';
import { referenceOf } from './api-reference.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API key a Developer API call authenticated with. */
    apiKey: AuthenticatedKey | null;
  }
}

export const API_BASE = '/api/public';
/** Kasm's calls carry small JSON bodies; the largest field (notes) is 20,000 characters. */
const API_BODY_LIMIT = 64 * 1024;

const NO_CREDENTIALS =
  'An API key is required: send "api_key" and "api_key_secret" in the JSON body, or HTTP Basic authentication with key:secret.';

/** The 403 for a key without the call's permission: which call, which permission, in plain words. */
export const lacksPermissionMessage = (call: Pick<ApiCall, 'name' | 'permission'>) =>
  `${call.name} needs the API key permission ${call.permission}; this key does not hold it.`;

const apiRoutes: FastifyPluginAsync = async (app) => {
  const { db, config } = app;
  app.decorateRequest('apiKey', null);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0', // 3.1: JSON Schema's type lists (a value or null) are valid there
      info: {
        title: 'Roster Developer API',
        version: '1.0.0',
        description:
          'Kasm-compatible calls. Every call is a POST with a JSON body that carries api_key and api_key_secret beside its arguments (or HTTP Basic key:secret). Failures answer {"error_message": "…"} with a 4xx status.',
      },
      components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' } } },
    },
    hideUntagged: true,
  });
  await app.register(rateLimit, { global: false });
  // Answers carry users, sessions and settings: no browser or proxy cache keeps a copy.
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  // Both limits run before the key is authenticated, so wrong secrets and refused calls are
  // counted too (a route's `rateLimit` config would hook in after our own preValidation).
  const limitWindow = 60_000;
  // Every call, per key as claimed (a claim without a complete credential counts per address).
  // A claim is cut short: the library keeps up to 5,000 buckets, and a body may be 64 KB.
  const perClaimedKey = app.createRateLimit({
    max: config.apiRateLimit,
    timeWindow: limitWindow,
    keyGenerator: (request: FastifyRequest) => {
      const claimed = apiCredentialsOf(request.headers.authorization, request.body)?.key;
      return claimed === undefined ? `ip:${request.ip}` : `key:${claimed.slice(0, 128)}`;
    },
  });
  // Failed authentications per client address: a new made-up key name each call would get a
  // fresh per-key bucket, so failures also count against the address they come from. It is a
  // second bucket (not every call per address) so that one host calling with several good keys
  // keeps each key's budget; it is read before authenticating and counted only on a failure.
  const failuresPerAddress = app.createRateLimit({ max: config.apiRateLimit, timeWindow: limitWindow });

  type Limit = Awaited<ReturnType<typeof perClaimedKey>>;
  /** 429 with Retry-After (seconds until the window ends). */
  const tooMany = (reply: FastifyReply, limit: Exclude<Limit, { isAllowed: true }>) => {
    const seconds = Math.max(1, limit.ttlInSeconds);
    reply.header('retry-after', seconds).header('x-ratelimit-limit', limit.max).header('x-ratelimit-remaining', 0);
    return send(
      reply,
      apiError(429, `Too many calls with this API key or from this address; try again in ${seconds} seconds.`),
    );
  };

  /** The key as the actor of the audit log and of the permission rules (it belongs to no group). */
  const actorOfKey = (request: FastifyRequest, key: AuthenticatedKey): Actor => ({
    type: 'api_key',
    id: key.id,
    name: `api_key:${key.name}`,
    ip: request.ip,
    at: new Date(app.now()),
    permissions: key.permissions,
    groupIds: new Set(),
  });

  // A stream (get_users) goes out as it is: Fastify serializes by the response schema only
  // what is not a stream, so its schema documents it without touching it.
  const send = (reply: FastifyReply, answer: ApiAnswer) =>
    'stream' in answer
      ? reply.type('application/json; charset=utf-8').send(answer.stream)
      : reply.code(answer.status).send(answer.body);

  /** Before the body is checked: how often (429), who calls (401), may this key make this call at all (403). */
  async function authenticate(request: FastifyRequest, reply: FastifyReply, call: ApiCall) {
    request.apiKey = null;
    const claimed = await perClaimedKey(request);
    if (!claimed.isAllowed && claimed.isExceeded) return tooMany(reply, claimed);
    const failed = await failuresPerAddress(request, { increment: false }); // read, not counted
    if (!failed.isAllowed && failed.remaining === 0) return tooMany(reply, failed);
    const type = request.headers['content-type'] ?? '';
    if (request.body !== undefined && !type.toLowerCase().startsWith('application/json')) {
      return send(reply, apiError(415, 'Send the body as JSON (Content-Type: application/json).'));
    }
    const credentials = apiCredentialsOf(request.headers.authorization, request.body);
    const result = credentials
      ? await authenticateApiKey(db, credentials, new Date(app.now()))
      : ({ ok: false, message: NO_CREDENTIALS } as const);
    if (!result.ok) {
      await failuresPerAddress(request);
      return send(reply, apiError(401, result.message));
    }
    const key = result.key;
    request.apiKey = key;
    const refusal =
      key.readOnly && !isReadCall(call.name)
        ? `The API key ${key.name} is read-only: it may make get_* calls only.`
        : !hasPermission(key.permissions, call.permission)
          ? lacksPermissionMessage(call)
          : null;
    if (refusal) {
      await recordDenied(db, actorOfKey(request, key), { reason: refusal, method: request.method, url: request.url });
      return send(reply, apiError(403, refusal));
    }
  }

  for (const call of API_CALLS) {
    const answers = API_ANSWERS[call.name];
    if (!answers) throw new Error(`${call.name}: no answer schema in schemas/api-responses.ts`);
    app.post(
      `${API_BASE}/${call.name}`,
      {
        bodyLimit: API_BODY_LIMIT,
        schema: {
          body: call.body,
          response: apiResponseSchemas(answers.ok, answers.errors),
          tags: [call.tag],
          summary: call.summary,
          description: `Needs ${call.permission}.`,
          security: [{ basic: [] }],
        },
        // Not `public`: the key check below is its access rule (and the route-table tests walk it).
        config: {
          sessionless: true,
          csrf: false,
        },
        preValidation: (request, reply) => authenticate(request, reply, call),
      },
      async (request, reply) => {
        const actor = actorOfKey(request, request.apiKey!);
        const context = {
          db,
          actor,
          now: new Date(app.now()),
          passwordMinLength: config.passwordMinLength,
          streamBatch: config.apiStreamBatch,
        };
        const answer = await call.handle(context, request.body as never);
        return send(reply, answer);
      },
    );
  }

  app.get(
    `${API_BASE}/openapi.json`,
    { schema: { response: { 200: OpenApiDocument } }, config: { public: true, sessionless: true } },
    async () => app.swagger(),
  );

  // The reference as a page (it works without JavaScript): each call, its permission, its body, a curl example.
  app.get(`${API_BASE}/reference`, { config: { public: true } }, async (request, reply) =>
    reply.render('api/reference', {
      calls: referenceOf(API_CALLS, `${request.protocol}://${request.host}`),
      base: API_BASE,
    }),
  );
};

export default apiRoutes;
