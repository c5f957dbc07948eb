import type { Stores } from '../../core/ports.js';
import { translatingErrors } from '../translate-errors.js';
import { createSqliteAccounts } from './accounts.js';
import { createSqliteAdmins } from './admins.js';
import { createSqliteAppPasswords } from './app-passwords.js';
import { createSqliteAudit } from './audit.js';
import { createSqliteDatabase } from './database.js';
import type { Db } from './db.js';
import { createSqliteDkimKeys } from './dkim-keys.js';
import { createSqliteDnsChecks } from './dns-checks.js';
import { createSqliteDomains } from './domains.js';
import { translateSqliteError } from './errors.js';
import { createSqliteLoginHistory } from './login-history.js';
import { createSqliteNotices } from './notices.js';
import { createSqliteRecovery } from './recovery.js';
import { createSqliteSecondFactors } from './second-factors.js';
import { createSqliteSendLimits } from './send-limits.js';
import { createSqliteSessions } from './sessions.js';
import { createSqliteSettings } from './settings.js';
import { createSqliteTokens } from './tokens.js';
import { createSqliteWebhooks } from './webhooks.js';

/**
 * Every port over one SQLite file. `relaxed`: a second connection with synchronous=NORMAL for what
 * is not worth an fsync on the event loop (web sessions, sending counts; see createSqliteSessions).
 */
export function createSqliteStores(db: Db, { relaxed = db }: { relaxed?: Db } = {}): Stores {
  const stores: Stores = {
    domains: createSqliteDomains(db),
    accounts: createSqliteAccounts(db),
    admins: createSqliteAdmins(db),
    tokens: createSqliteTokens(db),
    sessions: createSqliteSessions(db, relaxed),
    audit: createSqliteAudit(db),
    loginHistory: createSqliteLoginHistory(db),
    secondFactors: createSqliteSecondFactors(db),
    appPasswords: createSqliteAppPasswords(db),
    dkimKeys: createSqliteDkimKeys(db),
    dnsChecks: createSqliteDnsChecks(db),
    notices: createSqliteNotices(db),
    recovery: createSqliteRecovery(db),
    settings: createSqliteSettings(db),
    sendLimits: createSqliteSendLimits(db, relaxed),
    webhooks: createSqliteWebhooks(db, relaxed),
    database: createSqliteDatabase(db, relaxed === db ? [] : [relaxed]),
  };
  for (const port of Object.values(stores)) translatingErrors(port, translateSqliteError);
  return stores;
}
