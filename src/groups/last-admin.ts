// The last-admin guard (docs/rules.md#groups): no change may leave Roster without someone who can
// administer it. Commands call it inside their transaction, after making the change.
import type { Database } from '../db/client.js';
import { countActiveGlobalAdmins } from './groups-queries.js';

export class LastAdminError extends Error {
  constructor() {
    super(
      'This change would leave no enabled, unlocked local user holding global_admin who can log in: Roster would have no one left to administer it.',
    );
  }
}

/**
 * Call inside the transaction of a change, after making it: throws (rolling the change back)
 * when no enabled user holding global_admin would remain.
 */
export async function assertAdministrable(db: Database): Promise<void> {
  if ((await countActiveGlobalAdmins(db)) === 0) throw new LastAdminError();
}
