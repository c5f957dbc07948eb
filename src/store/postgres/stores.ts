import type pg from 'pg';
import type { Stores } from '../../core/ports.js';
import { translatingErrors } from '../translate-errors.js';
import { createPostgresAccounts } from './accounts.js';
import { createPostgresAdmins } from './admins.js';
import { createPostgresAppPasswords } from './app-passwords.js';
import { createPostgresAudit } from './audit.js';
import { createPostgresDatabase } from './database.js';
import { createPostgresDkimKeys } from './dkim-keys.js';
import { createPostgresDnsChecks } from './dns-checks.js';
import { createPostgresDomains } from './domains.js';
import { translatePgError } from './errors.js';
import { createPostgresLoginHistory } from './login-history.js';
import { createPostgresNotices } from './notices.js';
import { createPostgresRecovery } from './recovery.js';
import { createPostgresSecondFactors } from './second-factors.js';
import { createPostgresSendLimits } from './send-limits.js';
import { createPostgresSessions } from './sessions.js';
import { createPostgresSettings } from './settings.js';
import { createPostgresTokens } from './tokens.js';
import { createPostgresWebhooks } from './webhooks.js';

/** Every port over a node-postgres pool (SPEC §12): the same operations, transactions and answers as SQLite's. */
export function createPostgresStores(pool: pg.Pool): Stores {
  const stores: Stores = {
    domains: createPostgresDomains(pool),
    accounts: createPostgresAccounts(pool),
    admins: createPostgresAdmins(pool),
    tokens: createPostgresTokens(pool),
    sessions: createPostgresSessions(pool),
    audit: createPostgresAudit(pool),
    loginHistory: createPostgresLoginHistory(pool),
    secondFactors: createPostgresSecondFactors(pool),
    appPasswords: createPostgresAppPasswords(pool),
    dkimKeys: createPostgresDkimKeys(pool),
    dnsChecks: createPostgresDnsChecks(pool),
    notices: createPostgresNotices(pool),
    recovery: createPostgresRecovery(pool),
    settings: createPostgresSettings(pool),
    sendLimits: createPostgresSendLimits(pool),
    webhooks: createPostgresWebhooks(pool),
    database: createPostgresDatabase(pool),
  };
  for (const port of Object.values(stores)) translatingErrors(port, translatePgError);
  return stores;
}
