import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type autocannon from 'autocannon';
import { eq } from 'drizzle-orm';
import { buildApp } from '../src/app.js';
import type { Config } from '../src/config.js';
import type { DatabaseHandle } from '../src/db/client.js';
import { users } from '../src/db/schema.js';
import { BENCH_ADMIN_PASSWORD } from './bench-database.js';

export interface BenchServer {
  base: string;
  cookie: string;
  close(): Promise<void>;
}

/** The app on a loopback port, with a logged-in admin session (as a browser gets one). */
export async function benchServer(handle: DatabaseHandle, config: Config): Promise<BenchServer> {
  // The bench logs in as the first admin; skip its forced password reset.
  await handle.db.update(users).set({ forcePasswordReset: false }).where(eq(users.username, 'admin'));
  const app = await buildApp({ config, db: handle.db });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return { base, cookie: await logInAsBenchAdmin(base), close: () => app.close() };
}

/** Logs in to the server at `base` as the bench's admin, as a browser does; returns the session cookie. */
export async function logInAsBenchAdmin(base: string): Promise<string> {
  const loginPage = await fetch(`${base}/login`);
  const anonymousCookie = loginPage.headers.get('set-cookie')!.split(';')[0]!;
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await loginPage.text())![1]!;
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: anonymousCookie },
    body: new URLSearchParams({ _csrf: csrf, username: 'admin', password: BENCH_ADMIN_PASSWORD }),
  });
  if (login.status !== 303) throw new Error(`bench login failed: ${login.status}`);
  return login.headers.get('set-cookie')!.split(';')[0]!;
}

export interface LoadOptions {
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
  method?: string;
  body?: string;
}

const autocannonCli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
const run = promisify(execFile);

/**
 * Runs autocannon in a process of its own, so that the load generator does not share the
 * server's event loop (in-process it took a large part of the one thread being measured).
 */
export async function loadFromChild(url: string, options: LoadOptions): Promise<autocannon.Result> {
  const args = [autocannonCli, '--json', '-c', String(options.connections), '-d', String(options.seconds)];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}=${value}`);
  if (options.method) args.push('-m', options.method);
  if (options.body !== undefined) args.push('-b', options.body);
  const { stdout } = await run(process.execPath, [...args, url], { maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(stdout) as autocannon.Result;
}

/** Runs autocannon (10 connections) on each [name, path] and prints a Markdown table. */
export async function runScenarios(
  server: BenchServer,
  seconds: number,
  scenarios: ReadonlyArray<readonly [string, string]>,
) {
  console.log('| scenario | req/s | p50 ms | p99 ms |\n|---|---|---|---|');
  for (const [name, path] of scenarios) {
    const headers: Record<string, string> = { cookie: server.cookie };
    if (name.includes('htmx')) headers['hx-request'] = 'true';
    const check = await fetch(server.base + path, { headers });
    if (check.status !== 200) throw new Error(`${path} answered ${check.status}`);
    const result = await loadFromChild(server.base + path, { connections: 10, seconds, headers });
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${path}: ${result.non2xx} non-2xx, ${result.errors} errors`);
    console.log(`| ${name} | ${result.requests.average.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} |`);
  }
}
