import { describeActor, type Actor } from './actors.js';
import type { AuditEntry, Clock, Logger, Store } from './ports.js';

export type AuditAction =
  | 'login.success'
  | 'login.failure'
  | 'login.failure-limited'
  | 'admin-login.success'
  | 'admin-login.failure'
  | 'admin-login.failure-limited'
  | 'smtp-login.failure-locked'
  | 'password.change'
  | 'password.reset'
  | 'mailbox.create'
  | 'mailbox.delete'
  | 'mailbox.disable'
  | 'mailbox.enable'
  | 'domain.create'
  | 'admin.create'
  | 'admin.password'
  | 'credential.create'
  | 'credential.reset'
  | 'credential.delete'
  | 'token.create'
  | 'token.revoke'
  | 'sessions.end';

export interface Audit {
  record(actor: Actor | string, action: AuditAction, target: string, ip?: string | null, detail?: string): Promise<void>;
  /**
   * The entry `record` would write, for a store method that writes it in the transaction of the
   * change it describes; `logged(entry)` writes the log line once that transaction committed.
   */
  entry(actor: Actor | string, action: AuditAction, target: string, ip?: string | null, detail?: string): AuditEntry;
  logged(entry: AuditEntry): void;
}

/** The audit trail. Never given a secret: callers pass names and addresses only. */
export function createAudit({ store, clock, log }: { store: Store; clock: Clock; log: Logger }): Audit {
  const entry: Audit['entry'] = (actor, action, target, ip = null, detail) => ({
    at: clock.now(),
    actor: typeof actor === 'string' ? actor : describeActor(actor),
    action,
    target,
    ip,
    detail: detail ?? null,
  });
  const logged = (e: AuditEntry) => log.info({ audit: e }, e.action);
  return {
    entry,
    logged,
    async record(actor, action, target, ip = null, detail) {
      const e = entry(actor, action, target, ip, detail);
      logged(e);
      await store.appendAudit(e);
    },
  };
}
