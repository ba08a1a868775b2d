import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { ADMIN_NEW_PASSWORD, ADMIN_PASSWORD, USER_PASSWORD } from './test-app.js';

/** The CSRF token of the last form on a page. */
export function csrfFrom(html: string): string {
  const tokens = [...html.matchAll(/name="_csrf" value="([^"]+)"/g)];
  const token = tokens.at(-1)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}

/**
 * A browser-like client for app.inject: keeps cookies and the page's CSRF token, so route
 * tests read like a person using the forms.
 */
export class TestClient {
  cookies = new Map<string, string>();
  csrf = '';

  constructor(
    private readonly app: FastifyInstance,
    readonly ip = '127.0.0.1',
  ) {}

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private remember(response: LightMyRequestResponse) {
    for (const cookie of response.cookies) {
      if (cookie.value === '' || (cookie.expires && cookie.expires.getTime() < Date.now()))
        this.cookies.delete(cookie.name);
      else this.cookies.set(cookie.name, cookie.value);
    }
    const type = String(response.headers['content-type'] ?? '');
    if (type.startsWith('text/html') && response.body.includes('name="_csrf"')) this.csrf = csrfFrom(response.body);
    return response;
  }

  async get(url: string, headers: Record<string, string> = {}) {
    return this.remember(
      await this.app.inject({
        method: 'GET',
        url,
        headers: { cookie: this.cookieHeader(), ...headers },
        remoteAddress: this.ip,
      }),
    );
  }

  /** Posts a form; the CSRF token of the last page is added unless `_csrf` is given. */
  async post(url: string, form: Record<string, string | string[]> = {}, headers: Record<string, string> = {}) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries({ _csrf: this.csrf, ...form })) {
      for (const one of Array.isArray(value) ? value : [value]) params.append(name, one);
    }
    const body = params.toString();
    return this.remember(
      await this.app.inject({
        method: 'POST',
        url,
        payload: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: this.cookieHeader(), ...headers },
        remoteAddress: this.ip,
      }),
    );
  }

  /** Posts a multipart form (as a file input does), with an optional file; the CSRF token comes first. */
  async postMultipart(
    url: string,
    form: Record<string, string>,
    file?: { field?: string; filename: string; data: Buffer },
  ) {
    const boundary = `----roster${Math.random().toString(16).slice(2)}`;
    const parts: Buffer[] = [];
    for (const [name, value] of Object.entries({ _csrf: this.csrf, ...form })) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    }
    if (file) {
      parts.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${file.field ?? 'file'}"; filename="${file.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
        ),
      );
      parts.push(file.data, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    return this.remember(
      await this.app.inject({
        method: 'POST',
        url,
        payload: Buffer.concat(parts),
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, cookie: this.cookieHeader() },
        remoteAddress: this.ip,
      }),
    );
  }

  async login(username: string, password: string) {
    await this.get('/login');
    return this.post('/login', { username, password });
  }

  /** Creates a local user through the Add User form (as an admin); returns the new user's id. */
  async addUser(username: string, extra: Record<string, string> = {}): Promise<string> {
    await this.get('/admin/users/new');
    const response = await this.post('/admin/users', { username, password: USER_PASSWORD, realm: 'local', ...extra });
    if (response.statusCode !== 303) throw new Error(`creating ${username} answered ${response.statusCode}`);
    return response.headers.location!.split('/').pop()!;
  }

  /** First admin login, including the forced password reset. */
  async loginAsFirstAdmin() {
    let response = await this.login('admin', ADMIN_PASSWORD);
    if (response.statusCode === 401) response = await this.login('admin', ADMIN_NEW_PASSWORD); // reset done before
    if (response.headers.location === '/password-reset') {
      await this.get('/password-reset');
      await this.post('/password-reset', { password: ADMIN_NEW_PASSWORD, password_confirm: ADMIN_NEW_PASSWORD });
    }
    await this.get('/');
    return this;
  }
}
