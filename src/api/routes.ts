// The Developer API over HTTP (SPEC §7): POST /api/public/<call> for each call of API_CALLS,
// authenticated per call by an API key (never by a browser session), each with its body
// schema; the OpenAPI document and the reference page are made from the same table.
import rateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { recordDenied, type RequestActor } from '../audit/audit-log.js';
import { authenticateApiKey, type AuthenticatedKey } from '../api-keys/api-keys-service.js';
import { apiCredentialsOf } from '../security/api-key-secret.js';
import { hasPermission } from '../security/permissions.js';
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

  /** The key as the actor of the audit log and of the permission rules (it belongs to no group). */
  const actorOfKey = (request: FastifyRequest, key: AuthenticatedKey): RequestActor => ({
    type: 'api_key',
    id: key.id,
    name: `api_key:${key.name}`,
    ip: request.ip,
    permissions: key.permissions,
    groupIds: new Set(),
  });

  const send = (reply: FastifyReply, answer: ApiAnswer) =>
    'stream' in answer ? reply.type('application/json; charset=utf-8').send(answer.stream) : reply.code(answer.status).send(answer.body);

  /** Before the body is checked: who calls (401), may this key make this call at all (403). */
  async function authenticate(request: FastifyRequest, reply: FastifyReply, call: ApiCall) {
    request.apiKey = null;
    const type = request.headers['content-type'] ?? '';
    if (request.body !== undefined && !type.toLowerCase().startsWith('application/json')) {
      return send(reply, apiError(415, 'Send the body as JSON (Content-Type: application/json).'));
    }
    const credentials = apiCredentialsOf(request.headers.authorization, request.body);
    if (!credentials) return send(reply, apiError(401, NO_CREDENTIALS));
    const result = await authenticateApiKey(db, credentials, new Date(app.now()));
    if (!result.ok) return send(reply, apiError(401, result.message));
    const key = result.key;
    request.apiKey = key;
    const refusal = key.readOnly && !isReadCall(call.name)
      ? `The API key ${key.name} is read-only: it may make get_* calls only.`
      : !hasPermission(key.permissions, call.permission)
        ? `The API key ${key.name} lacks ${call.permission}, which ${call.name} needs.`
        : null;
    if (refusal) {
      await recordDenied(db, actorOfKey(request, key), { reason: refusal, method: request.method, url: request.url });
      return send(reply, apiError(403, refusal));
    }
  }

  for (const call of API_CALLS) {
    app.post(
      `${API_BASE}/${call.name}`,
      {
        bodyLimit: API_BODY_LIMIT,
        schema: { body: call.body, tags: [call.tag], summary: call.summary, description: `Needs ${call.permission}.`, security: [{ basic: [] }] },
        // Not `public`: the key check below is its access rule (and the route-table tests walk it).
        config: {
          sessionless: true,
          csrf: false,
          rateLimit: {
            max: config.apiRateLimit,
            timeWindow: '1 minute',
            hook: 'preValidation',
            keyGenerator: (request: FastifyRequest) => (request.apiKey ? `key:${request.apiKey.id}` : `ip:${request.ip}`),
            errorResponseBuilder: (_request: FastifyRequest, context: { after: string }) => ({
              statusCode: 429,
              message: `Too many calls with this API key; try again in ${context.after}.`,
            }),
          },
        },
        preValidation: (request, reply) => authenticate(request, reply, call),
      },
      async (request, reply) => {
        const actor = actorOfKey(request, request.apiKey!);
        const answer = await call.handle({ db, actor, now: new Date(app.now()), passwordMinLength: config.passwordMinLength }, request.body as never);
        return send(reply, answer);
      },
    );
  }

  app.get(`${API_BASE}/openapi.json`, { config: { public: true, sessionless: true } }, async () => app.swagger());

  // The reference as a page (it works without JavaScript): each call, its permission, its body, a curl example.
  app.get(`${API_BASE}/reference`, { config: { public: true } }, async (request, reply) =>
    reply.render('api/reference', { calls: referenceOf(API_CALLS, `${request.protocol}://${request.host}`), base: API_BASE }),
  );
};

export default apiRoutes;
