import type { FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { apiCredentialsOf } from '../security/api-key-secret.js';
import { nulField } from '../security/text-rules.js';

/**
 * No string of a request may hold a NUL: PostgreSQL text cannot store one (the statement
 * fails, which answered 500), and no form of Roster sends one. Refused with a 400 that names
 * the field, before the route's own hooks (the API key check, the CSRF check) and its handler
 * see the value; the app's error handler answers in the route's style (JSON under /api/, a page
 * or an htmx fragment otherwise).
 */
export class NulCharacterError extends Error {
  readonly statusCode = 400;
  constructor(field: string) {
    super(`${field} must not contain a NUL character.`);
  }
}

function refuseNul(value: unknown, name = ''): void {
  const field = nulField(value, name);
  if (field !== null) throw new NulCharacterError(field || 'The request body');
}

/** The headers that carry credentials, as the credential reader sees them (Basic decoded). */
function checkCredentialHeaders(request: FastifyRequest): void {
  const { authorization, 'api-key': apiKey, 'api-key-secret': apiKeySecret } = request.headers;
  refuseNul(authorization, 'The Authorization header');
  refuseNul(apiKey, 'The api-key header');
  refuseNul(apiKeySecret, 'The api-key-secret header');
  const basic = apiCredentialsOf(authorization, undefined);
  refuseNul(basic?.key, 'The HTTP Basic key');
  refuseNul(basic?.secret, 'The HTTP Basic secret');
}

const checkBody: preValidationAsyncHookHandler = async (request) => refuseNul(request.body);

export default fp(async (app) => {
  // Query, params and headers are known as the request arrives: checked before the logged-in
  // user is loaded (register this after the session plugin, whose session the error page needs).
  app.addHook('onRequest', async (request) => {
    refuseNul(request.params);
    refuseNul(request.query);
    checkCredentialHeaders(request);
  });
  // The body exists from preValidation on; a route-level hook runs after the instance ones (the
  // multipart reader fills the body in one) and before the route's own (the API key check).
  app.addHook('onRoute', (route) => {
    route.preValidation = [checkBody, ...[route.preValidation ?? []].flat()];
  });
});
