import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import fp from 'fastify-plugin';

const publicDir = fileURLToPath(new URL('../../public', import.meta.url));
// htmx is served from our own origin, straight from the installed package (no CDN, no copy).
const htmxDir = path.dirname(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'));

export default fp(async (app) => {
  await app.register(async (files) => {
    // Static files are public; the hook marks them so before they are registered.
    files.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true, allowPlainHttp: true };
    });
    await files.register(fastifyStatic, { root: publicDir, prefix: '/static/', decorateReply: false });
    await files.register(fastifyStatic, {
      root: htmxDir,
      prefix: '/static/vendor/',
      allowedPath: (pathname) => pathname === '/htmx.min.js',
      decorateReply: false,
    });
  });
});
