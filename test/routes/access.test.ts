import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { insertApiKey } from '../helpers/api.js';
import { API_CALLS } from '../../src/api/api-calls.js';

// Every registered route, checked from the outside: a route added without an access rule
// fails here. Routes any logged-in user may use are listed on purpose.
const FOR_EVERY_USER = new Set([
  'GET /',
  'POST /logout',
  'GET /password-reset',
  'POST /password-reset',
  'GET /profile',
  'POST /profile/settings',
  'POST /profile/settings/:key',
  'POST /profile/password',
  'GET /profile/sessions/:handle/end',
  'POST /profile/sessions/:handle/end',
  'GET /profile/sessions/end-others',
  'POST /profile/sessions/end-others',
  'GET /profile/2fa',
  'POST /profile/2fa/enroll/start',
  'GET /profile/2fa/enroll',
  'GET /profile/2fa/qr.png',
  'POST /profile/2fa/enroll',
  'POST /profile/2fa/remove',
  // Launching (docs/rules.md#workspaces-and-the-launch-plan): a user's own workspace sessions; someone else's are a 404 for them.
  'GET /go',
  'POST /launch',
  'GET /workspace-sessions/:id',
  'GET /workspace-sessions/:id/end', // the confirm step of the same
  'POST /workspace-sessions/:id/end',
]);
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';

let t: TestApp;
let plain: TestClient;

beforeAll(async () => {
  t = await createTestApp();
  const admin = await new TestClient(t.app).loginAsFirstAdmin();
  await admin.get('/admin/users/new');
  await admin.post('/admin/users', { username: 'plain-user', password: 'a long user password', realm: 'local' });
  plain = new TestClient(t.app);
  await plain.login('plain-user', 'a long user password');
  await plain.get('/');
});
afterAll(() => t.close());

function routes() {
  return t.app.routeIndex
    .filter((route) => route.method !== 'HEAD' && !route.config.public)
    .map((route) => ({ ...route, path: route.url.replace(/:[A-Za-z]+/g, SAMPLE_ID) }));
}

describe('every route is guarded', () => {
  it('knows the routes', () => {
    expect(routes().length).toBeGreaterThan(25);
  });

  it('sends anonymous visitors to log in (pages) or answers 401 (API)', async () => {
    for (const route of routes()) {
      const response = await t.app.inject({ method: route.method as 'GET', url: route.path });
      const where = `${route.method} ${route.url}`;
      if (route.url.startsWith('/api/')) expect(response.statusCode, where).toBe(401);
      else {
        expect(response.statusCode, where).toBe(303);
        expect(response.headers.location, where).toMatch(/^\/login/);
      }
    }
  });

  it('refuses a user holding only `user` with 403, but for the pages every user has', async () => {
    for (const route of routes()) {
      const where = `${route.method} ${route.url}`;
      if (FOR_EVERY_USER.has(where) || route.url.startsWith('/api/')) continue;
      const response = route.method === 'GET' ? await plain.get(route.path) : await plain.post(route.path);
      expect(response.statusCode, where).toBe(403);
    }
  });

  it("answers every API call 401 to a browser session (even an admin's) and 403 to a key without its permission", async () => {
    const apiRoutes = routes().filter((route) => route.url.startsWith('/api/'));
    expect(apiRoutes.length).toBe(API_CALLS.length);
    const admin = await new TestClient(t.app).loginAsFirstAdmin();
    const nothing = await insertApiKey(t.handle.db, { name: 'no permissions', permissions: [] });
    const user = await insertApiKey(t.handle.db, { name: 'user only', permissions: ['user'] });
    for (const route of apiRoutes) {
      const where = `${route.method} ${route.url}`;
      const withCookie = await t.app.inject({
        method: 'POST',
        url: route.path,
        payload: {},
        headers: { cookie: admin.cookieHeader() },
      });
      expect(withCookie.statusCode, where).toBe(401);
      for (const key of [nothing, user]) {
        const response = await t.app.inject({
          method: 'POST',
          url: route.path,
          payload: {},
          headers: { authorization: key.basic },
        });
        expect(response.statusCode, where).toBe(403);
        expect(response.json().error_message, where).toMatch(
          /^\w+ needs the API key permission \w+; this key does not hold it\.$/,
        );
      }
    }
  });

  it('serves the public routes without a login', async () => {
    const publicRoutes = t.app.routeIndex
      .filter((route) => route.config.public)
      .map((route) => `${route.method} ${route.url}`);
    expect(publicRoutes).toEqual(
      expect.arrayContaining(['GET /login', 'POST /login', 'GET /login/code', 'POST /login/code', 'GET /healthz']),
    );
  });
});
