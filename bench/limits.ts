// Limits that count what an attacker sends (issue 18), measured over loopback against the full app
// on an embedded in-memory database:
//   1. wrong-secret API calls until the first 429, with API_RATE_LIMIT=5;
//   2. audit rows written by 20 write calls with a read-only key (API_RATE_LIMIT=5 and 600);
//   3. this process's peak RSS growth while a file mapping form with 19 unknown 5 MB fields is
//      posted (one request, then three at once). The body is generated as it is sent, so the
//      client holds no copy of it: what grows is the server's share.
// Usage: [DATABASE_URL=postgres://…/postgres] node --expose-gc --import tsx bench/limits.ts
// (with DATABASE_URL each app gets a database of its own on that server, dropped afterwards).
import http from 'node:http';
import { Readable } from 'node:stream';
import { and, eq, inArray } from 'drizzle-orm';
import { loadConfig } from '../src/config.js';
import postgres from 'postgres';
import { openPglite, openPostgres } from '../src/db/client.js';
import { apiKeyPermissions, apiKeys, auditEvents, fileMappings, workspaces } from '../src/db/schema.js';
import { hashApiSecret, newApiCredentials } from '../src/security/api-key-secret.js';
import { prepareDatabase } from '../src/setup/first-start.js';
import { BENCH_ADMIN_PASSWORD } from './bench-database.js';
import { benchServer } from './bench-http.js';

const MB = 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc --import tsx bench/limits.ts');

let made = 0;

async function start(apiRateLimit: string) {
  const config = loadConfig({
    ROSTER_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    LOGIN_RATE_LIMIT: '100000',
    API_RATE_LIMIT: apiRateLimit,
    ROSTER_DATA_DIR: '/nonexistent',
  });
  // With DATABASE_URL, a database of its own on that server (dropped afterwards); else in-memory PGlite.
  const serverUrl = process.env.DATABASE_URL;
  const name = `roster_limits_${process.pid}_${++made}`;
  const admin = serverUrl ? postgres(serverUrl, { max: 1, onnotice: () => {} }) : null;
  if (admin) await admin.unsafe(`create database ${name}`);
  const handle = serverUrl
    ? openPostgres(Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString(), { max: 5 })
    : await openPglite(null);
  await prepareDatabase(handle, config);
  const server = await benchServer(handle, config);
  const close = async () => {
    await server.close();
    await handle.close();
    if (admin) await admin.unsafe(`drop database if exists ${name} with (force)`).then(() => admin.end());
  };
  return { ...server, db: handle.db, close };
}

async function insertKey(db: Awaited<ReturnType<typeof start>>['db'], readOnly: boolean) {
  const { key, secret } = newApiCredentials();
  const [row] = await db
    .insert(apiKeys)
    .values({ name: `bench ${key}`, key, secretHash: hashApiSecret(secret), readOnly })
    .returning();
  await db.insert(apiKeyPermissions).values({ apiKeyId: row!.id, permission: 'global_admin' });
  return { id: row!.id, key, secret };
}

const call = (base: string, name: string, body: unknown) =>
  fetch(`${base}/api/public/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

async function apiFigures() {
  const server = await start('5');
  try {
    const key = await insertKey(server.db, false);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++)
      statuses.push((await call(server.base, 'get_images', { api_key: key.key, api_key_secret: 'wrong' })).status);
    const first429 = statuses.indexOf(429);
    console.log(
      `wrong-secret calls (API_RATE_LIMIT=5): ${first429 === -1 ? 'no 429 in 30 calls' : `first 429 at call ${first429 + 1}`}; statuses ${summary(statuses)}`,
    );
  } finally {
    await server.close();
  }
  for (const limit of ['5', '600']) {
    const server = await start(limit);
    try {
      const key = await insertKey(server.db, true);
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++)
        statuses.push(
          (
            await call(server.base, 'create_user', {
              api_key: key.key,
              api_key_secret: key.secret,
              target_user: { username: 'x', password: 'a long enough password' },
            })
          ).status,
        );
      const rows = await server.db
        .select()
        .from(auditEvents)
        .where(and(eq(auditEvents.actorId, key.id), eq(auditEvents.action, 'authz_fail')));
      console.log(
        `20 writes with a read-only key (API_RATE_LIMIT=${limit}): statuses ${summary(statuses)}; audit rows ${rows.length}; details ${JSON.stringify(rows.map((r) => (r.details as { repeated?: number }).repeated ?? 1))}`,
      );
    } finally {
      await server.close();
    }
  }
}

const summary = (statuses: number[]) =>
  Object.entries(statuses.reduce<Record<string, number>>((counts, s) => ({ ...counts, [s]: (counts[s] ?? 0) + 1 }), {}))
    .map(([status, n]) => `${n}×${status}`)
    .join(', ');

/** A multipart body as parts of known size, generated 64 KB at a time while it is sent. */
function multipart(fields: Array<[string, string | number]>) {
  const boundary = '----roster-bench-boundary';
  const pieces: Array<Buffer | number> = [];
  for (const [name, value] of fields) {
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`));
    pieces.push(typeof value === 'number' ? value : Buffer.from(value));
    pieces.push(Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  const length = pieces.reduce<number>((sum, p) => sum + (typeof p === 'number' ? p : p.length), 0);
  function* chunks() {
    const filler = Buffer.alloc(64 * 1024, 'a');
    for (const piece of pieces) {
      if (typeof piece !== 'number') yield piece;
      else
        for (let left = piece; left > 0; left -= filler.length) yield filler.subarray(0, Math.min(left, filler.length));
    }
  }
  return { type: `multipart/form-data; boundary=${boundary}`, length, body: () => Readable.from(chunks()) };
}

function post(
  url: string,
  cookie: string,
  form: ReturnType<typeof multipart>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      url,
      { method: 'POST', headers: { cookie, 'content-type': form.type, 'content-length': form.length } },
      (response) => {
        let body = '';
        response
          .setEncoding('utf8')
          .on('data', (chunk: string) => (body += chunk))
          .on('end', () => resolve({ status: response.statusCode!, body }));
      },
    );
    // The server may answer (and close) before the whole body is sent: that is the point.
    request.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EPIPE' || error.code === 'ECONNRESET' ? resolve({ status: 0, body: error.code }) : reject(error),
    );
    form.body().pipe(request);
  });
}

async function rssFigures() {
  const server = await start('600');
  try {
    const [workspace] = await server.db
      .insert(workspaces)
      .values({ friendlyName: 'Bench Desktop', image: 'kasmweb/desktop:1.16.0' })
      .returning();
    const url = `${server.base}/admin/workspaces/${workspace!.id}/file-mappings`;
    const page = await (await fetch(`${url}/new`, { headers: { cookie: server.cookie } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const legal = (n: number) =>
      multipart([
        ['_csrf', csrf],
        ['name', `Warm-up ${n}`],
        ['destination_path', `/opt/warm-up-${n}`],
        ['content', 'hello'],
      ]);
    const attack = multipart([
      ['_csrf', csrf],
      ['name', 'Attack'],
      ['destination_path', '/opt/attack'],
      ...Array.from({ length: 19 }, (_, i): [string, number] => [`unknown_${i}`, 5 * MB]),
    ]);
    console.log(`attack form: ${(attack.length / MB).toFixed(1)} MB in ${19 + 3} fields`);
    for (let i = 0; i < 3; i++) await post(url, server.cookie, legal(i)); // warm-up: code paths loaded, pools filled
    // The same attack squeezed under the cap (19 unknown fields of 280 KB), and the largest legal
    // form (a 5 MB text field): what a request can still make the server hold.
    const squeezed = multipart([
      ['_csrf', csrf],
      ['name', 'Attack'],
      ['destination_path', '/opt/attack'],
      ...Array.from({ length: 19 }, (_, i): [string, number] => [`unknown_${i}`, 280 * 1024]),
    ]);
    const largest = multipart([
      ['_csrf', csrf],
      ['name', 'Largest'],
      ['destination_path', '/opt/largest'],
      ['content', 5 * MB],
    ]);
    for (const [label, form, parallel] of [
      ['19×5 MB form', attack, 1],
      ['19×5 MB form', attack, 3],
      ['19×280 KB form', squeezed, 1],
      ['5 MB text form (legal)', largest, 1],
    ] as const) {
      gc!();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
      const answers = await Promise.all(Array.from({ length: parallel }, () => post(url, server.cookie, form)));
      clearInterval(sampler);
      peak = Math.max(peak, process.memoryUsage().rss);
      const stored = await server.db
        .select({ id: fileMappings.id })
        .from(fileMappings)
        .where(inArray(fileMappings.name, ['Attack', 'Largest']));
      console.log(
        `${parallel} × ${label}: statuses ${answers.map((a) => a.status).join(', ')}; peak RSS growth ${((peak - baseline) / MB).toFixed(1)} MB; mappings stored so far ${stored.length}`,
      );
    }
  } finally {
    await server.close();
  }
}

await apiFigures();
await rssFigures();
