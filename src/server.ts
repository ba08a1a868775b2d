// The process: configuration, database, first start, listen, graceful shutdown.
import v8 from 'node:v8';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { openDatabase, pgliteDir, type DatabaseHandle } from './db/client.js';
import { DataFolderInUseError } from './db/data-folder-lock.js';
import { checkAdminPassword, prepareDatabase } from './setup/first-start.js';
import { firstStartBanner, prettyLogLine } from './setup/start-up-output.js';

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
// A terminal gets readable lines; anything else (a file, a log collector) the JSON lines.
const logger = process.stdout.isTTY
  ? { level: config.logLevel, stream: { write: (line: string) => void process.stdout.write(prettyLogLine(line)) } }
  : { level: config.logLevel };
const app = await buildApp({ config, db: handle.db, logger });

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
const where =
  handle.kind === 'pglite' ? `embedded database in ${pgliteDir(config.dataDir)}` : 'PostgreSQL (DATABASE_URL)';
console.log(`\nRoster is running at ${url}  (${where})\n${firstAdmin ? '' : `Log in at ${url}/login\n`}`);
// The one-time password: on stderr, in a banner of its own, as the last start-up lines (the
// request logs go to stdout and do not scroll it away in a split view or `2>` file).
if (firstAdmin) console.error(firstStartBanner(firstAdmin, url));
