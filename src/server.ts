// The process: configuration, database, first start, listen, graceful shutdown.
import v8 from 'node:v8';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase, pgliteDir, type DatabaseHandle } from './db/client.js';
import { DataFolderInUseError } from './db/data-folder-lock.js';
import { checkAdminPassword, prepareDatabase } from './setup/first-start.js';

let config;
let handle: DatabaseHandle;
try {
  config = loadConfig();
  checkAdminPassword(config);
  // Under load V8 let the heap grow to three or four times its live data (~35 MB) before a full
  // collection, and the process peaked at 216–265 MB; at 50 % it peaked at 161–174 MB (README,
  // Benchmarks). Node refuses this flag in NODE_OPTIONS, so it is set here, before the heap grows.
  if (config.heapGrowingPercent > 0) v8.setFlagsFromString(`--heap-growing-percent=${config.heapGrowingPercent}`);
  handle = await openDatabase(config);
} catch (error) {
  // A setting or a data folder that cannot work: say which, in one message, and stop.
  if (error instanceof ConfigError || error instanceof DataFolderInUseError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const firstAdmin = await prepareDatabase(handle, config);
const app = await buildApp({ config, db: handle.db, logger: { level: config.logLevel } });

const shutdown = async (signal: string) => {
  app.log.info(`${signal} received, shutting down`);
  try {
    await app.close();
    await handle.close();
    process.exit(0);
  } catch (error) {
    app.log.error({ err: error }, 'shutdown failed');
    process.exit(1);
  }
};
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));

await app.listen({ host: config.host, port: config.port });
const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.port;
const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
const where = handle.kind === 'pglite' ? `embedded database in ${pgliteDir(config.dataDir)}` : 'PostgreSQL (DATABASE_URL)';
const lines = [``, `Roster is running at ${url}  (${where})`];
if (firstAdmin) {
  lines.push(
    `First start: created the administrator "${firstAdmin.username}".`,
    firstAdmin.generatedPassword
      ? `  Log in at ${url}/login as ${firstAdmin.username} with password: ${firstAdmin.generatedPassword}`
      : `  Log in at ${url}/login as ${firstAdmin.username} with the password from ROSTER_ADMIN_PASSWORD.`,
    `  This password is shown only once; you will be asked to choose a new one.`,
  );
} else {
  lines.push(`Log in at ${url}/login`);
}
console.log(lines.join('\n') + '\n');
