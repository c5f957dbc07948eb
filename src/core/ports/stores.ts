import type { AccountStore } from './accounts.js';
import type { AdminStore } from './admins.js';
import type { AppPasswordStore } from './app-passwords.js';
import type { AuditStore } from './audit.js';
import type { Database } from './database.js';
import type { DkimKeyStore } from './dkim-keys.js';
import type { DnsCheckStore } from './dns-checks.js';
import type { DomainStore } from './domains.js';
import type { LoginHistoryStore } from './login-history.js';
import type { NoticeStore } from './notices.js';
import type { RecoveryStore } from './recovery.js';
import type { SecondFactorStore } from './second-factors.js';
import type { SendLimitStore } from './send-limits.js';
import type { SessionStore } from './sessions.js';
import type { SettingStore } from './settings.js';
import type { TokenStore } from './tokens.js';
import type { WebhookStore } from './webhooks.js';

/**
 * Persistence, one port per aggregate, each implemented once per dialect under the same name
 * (`store/sqlite/<name>.ts`, `store/postgres/<name>.ts`). Times are Unix seconds. Every method
 * may reject with UnavailableError (locked, read-only, disk full) or ConflictError (a unique
 * name taken); none leaks a transaction handle. A use case takes only the ports it uses.
 */
export interface Stores {
  domains: DomainStore;
  accounts: AccountStore;
  admins: AdminStore;
  tokens: TokenStore;
  sessions: SessionStore;
  audit: AuditStore;
  loginHistory: LoginHistoryStore;
  secondFactors: SecondFactorStore;
  appPasswords: AppPasswordStore;
  dkimKeys: DkimKeyStore;
  dnsChecks: DnsCheckStore;
  notices: NoticeStore;
  /** SPEC §16: recovery addresses and the links mailed to them. */
  recovery: RecoveryStore;
  settings: SettingStore;
  sendLimits: SendLimitStore;
  /** SPEC §19: webhooks and their outbox. */
  webhooks: WebhookStore;
  database: Database;
}
