import path from 'node:path';
import { loadConfig } from '../src/config.js';
import { openDatabase, type OpenOptions } from '../src/db/client.js';
import { prepareDatabase } from '../src/setup/first-start.js';

export const BENCH_ADMIN_PASSWORD = 'bench boss passphrase';

/** The database the benchmarks use: DATABASE_URL, or the embedded one in ./bench-data. */
export async function openBenchDatabase(options: OpenOptions = {}) {
  const config = loadConfig({
    ...process.env,
    ROSTER_DATA_DIR: process.env.ROSTER_DATA_DIR ?? path.resolve('bench-data'),
    ROSTER_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD,
    LOG_LEVEL: 'silent',
    LOGIN_RATE_LIMIT: '100000',
  });
  const handle = await openDatabase(config, options);
  await prepareDatabase(handle, config);
  return { handle, config };
}
