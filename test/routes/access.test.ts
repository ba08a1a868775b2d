import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { TestClient } from '../helpers/client.js';
import { insertApiKey, type TestApiKey } from '../helpers/api.js';
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

// Made at collection time: it.each needs the route table (one app for the whole file).
const t: TestApp = await createTestApp();
const plain: TestClient = await makePlainUser();
afterAll(() => t.close());

async function makePlainUser(): Promise<TestClient> {
  const admin = await new TestClient(t.app).loginAsFirstAdmin();
  await admin.get('/admin/users/new');
  await admin.post('/admin/users', { username: 'plain-user', password: 'a long user password', realm: 'local' });
  const client = new TestClient(t.app);
  await client.login('plain-user', 'a long user password');
  await client.get('/');
  return client;
}

function routes() {
  return t.app.routeIndex
    .filter((route) => route.method !== 'HEAD' && !route.config.public)
    .map((route) => ({ ...route, path: route.url.replace(/:[A-Za-z]+/g, SAMPLE_ID) }));
}
/** it.each rows, one test per route, named by method and url. */
const each = (list: ReturnType<typeof routes>) => list.map((route) => [`${route.method} ${route.url}`, route] as const);
const apiRoutes = routes().filter((route) => route.url.startsWith('/api/'));

describe('every route is guarded', () => {
  it('knows the routes', () => {
    expect(routes().length).toBeGreaterThan(25);
  });

  describe('sends anonymous visitors to log in (pages) or answers 401 (API)', () => {
    it.each(each(routes()))('%s', async (where, route) => {
      const response = await t.app.inject({ method: route.method as 'GET', url: route.path });
      if (route.url.startsWith('/api/')) expect(response.statusCode, where).toBe(401);
      else {
        expect(response.statusCode, where).toBe(303);
        expect(response.headers.location, where).toMatch(/^\/login/);
      }
    });
  });

  describe('refuses a user holding only `user` with 403, but for the pages every user has', () => {
    const guarded = routes().filter(
      (route) => !FOR_EVERY_USER.has(`${route.method} ${route.url}`) && !route.url.startsWith('/api/'),
    );
    it('walks the guarded pages', () => {
      expect(guarded.length).toBeGreaterThan(0);
    });
    it.each(each(guarded))('%s', async (where, route) => {
      const response = route.method === 'GET' ? await plain.get(route.path) : await plain.post(route.path);
      expect(response.statusCode, where).toBe(403);
    });
  });

  describe("answers every API call 401 to a browser session (even an admin's) and 403 to a key without its permission", () => {
    let admin: TestClient;
    let nothing: TestApiKey;
    let user: TestApiKey;
    beforeAll(async () => {
      admin = await new TestClient(t.app).loginAsFirstAdmin();
      nothing = await insertApiKey(t.handle.db, { name: 'no permissions', permissions: [] });
      user = await insertApiKey(t.handle.db, { name: 'user only', permissions: ['user'] });
    });

    it('walks every API call', () => {
      expect(apiRoutes.length).toBe(API_CALLS.length);
    });

    it.each(each(apiRoutes))('%s', async (where, route) => {
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
    });
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
