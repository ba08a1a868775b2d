// Memory of the server as deployed: `npm run start:dist`'s command in a process of its own, on each
// database — idle after first start, idle after a restart, and the peak under load (32
// connections on the users list and a search). RSS is read from /proc (Linux). Usage:
//   npm run build
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/roster_bench npx tsx bench/memory.ts [users] [seconds]
// Without DATABASE_URL only the embedded database is measured. The PostgreSQL database is the
// one bench/seed.ts and bench/pages.ts prepared; the embedded one is a new folder, seeded here.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { eq } from 'drizzle-orm';
import { users } from '../src/db/schema.js';
import { BENCH_ADMIN_PASSWORD, openBenchDatabase } from './bench-database.js';
import { loadFromChild, logInAsBenchAdmin } from './bench-http.js';
import { seedUsers } from './seed.js';

const wanted = Number(process.argv[2] ?? 100_000);
const seconds = Number(process.argv[3] ?? 10);
const SETTLE_MS = 10_000;
if (!fs.existsSync('dist/server.js')) throw new Error('run `npm run build` first: this measures the compiled server');
// The node flags and script of `npm run start:dist` (the image runs the same flags from NODE_OPTIONS).
const startArgs = (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts[
  'start:dist'
]!.split(' ').slice(1);

const megabytes = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const line = fs
    .readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(field))!;
  return Math.round(Number(/(\d+)/.exec(line)![1]) / 1024);
};

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function start(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, startArgs, {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent', NODE_ENV: 'production' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (
      await fetch(`${base}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return { child, base };
    await sleep(200);
  }
  throw new Error('server did not start within 2 minutes');
}

async function stop(child: ChildProcess) {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Seeds the users and lets the bench admin in without the first-login password change. */
async function prepare(env: Record<string, string>) {
  const previous = { ...process.env };
  Object.assign(process.env, env);
  const { handle } = await openBenchDatabase();
  await seedUsers(handle.db, wanted);
  await handle.db.update(users).set({ forcePasswordReset: false }).where(eq(users.username, 'admin'));
  await handle.close();
  process.env = previous;
}

async function measure(name: string, env: Record<string, string>) {
  const first = await start(env);
  await sleep(SETTLE_MS);
  const firstIdle = megabytes(first.child.pid!, 'VmRSS');
  const firstPeak = megabytes(first.child.pid!, 'VmHWM');
  await stop(first.child);

  await prepare(env);
  const again = await start(env);
  await sleep(SETTLE_MS);
  const restartIdle = megabytes(again.child.pid!, 'VmRSS');
  const cookie = await logInAsBenchAdmin(again.base);
  for (const query of ['per_page=25', 'q=smith']) {
    await loadFromChild(`${again.base}/admin/users?${query}`, { connections: 32, seconds, headers: { cookie } });
  }
  const loadPeak = megabytes(again.child.pid!, 'VmHWM');
  await sleep(SETTLE_MS);
  const afterLoad = megabytes(again.child.pid!, 'VmRSS');
  await stop(again.child);
  console.log(`| ${name} | ${firstIdle} MB / ${firstPeak} MB | ${restartIdle} MB | ${loadPeak} MB | ${afterLoad} MB |`);
}

console.log(
  `memory bench: node ${startArgs.join(' ')} on Node ${process.version}, ${wanted} users, ${seconds}s of load per page\n`,
);
console.log(
  '| database | first start (idle / peak) | restart (idle) | peak under load | idle after load |\n|---|---|---|---|---|',
);
if (process.env.DATABASE_URL)
  await measure('PostgreSQL server', {
    DATABASE_URL: process.env.DATABASE_URL,
    ROSTER_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'roster-mem-')),
  });
const embedded = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-mem-'));
const optimized = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-mem-'));
try {
  const env = { DATABASE_URL: '', ROSTER_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD };
  await measure('embedded PGlite', { ...env, ROSTER_DATA_DIR: embedded });
  await measure('embedded PGlite, `PGLITE_OPTIMIZE_WASM=true`', {
    ...env,
    ROSTER_DATA_DIR: optimized,
    PGLITE_OPTIMIZE_WASM: 'true',
  });
} finally {
  for (const folder of [embedded, optimized]) fs.rmSync(folder, { recursive: true, force: true });
}
