import http from 'node:http';
import fp from 'fastify-plugin';

// A strict CSP: scripts and styles only from our own origin, no inline code anywhere.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "object-src 'none'",
].join('; ');

/** The first header Node would refuse to write (a CR, LF or non-Latin-1 character), if any. */
function invalidHeader(headers: Record<string, unknown>): string | null {
  for (const [name, value] of Object.entries(headers)) {
    try {
      http.validateHeaderName(name);
      for (const one of [value].flat()) if (one !== undefined) http.validateHeaderValue(name, String(one));
    } catch {
      return name;
    }
  }
  return null;
}

export default fp(async (app) => {
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'same-origin');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    if (app.config.cookieSecure) reply.header('Strict-Transport-Security', 'max-age=31536000');
  });

  // Node throws when it writes an invalid header, and it writes them after the last onSend
  // hook — inside @fastify/session's save callback, where nothing would catch it and the
  // process would stop. Registered first, this hook runs before the session is saved and turns
  // such a response into an ordinary 500 for this request (the bad header dropped).
  app.addHook('onSend', async (request, reply) => {
    const name = invalidHeader(reply.getHeaders());
    if (name === null) return;
    reply.removeHeader(name);
    throw new Error(`refused to send an invalid ${name} header for ${request.method} ${request.url}`);
  });
});
