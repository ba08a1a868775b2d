// `npm run db:migrate`: apply pending migrations without starting the server.
import { loadConfig } from '../config.js';
import { openDatabase } from './client.js';

const config = loadConfig();
const handle = await openDatabase(config);
await handle.migrate();
await handle.close();
console.log(`Migrations applied (${handle.kind}).`);
