import { describeActor, type Actor } from './actors.js';
import type { Clock, Logger, Store } from './ports.js';

export type AuditAction =
  | 'login.success'
  | 'login.failure'
  | 'admin-login.success'
  | 'admin-login.failure'
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
}

/** The audit trail. Never given a secret: callers pass names and addresses only. */
export function createAudit({ store, clock, log }: { store: Store; clock: Clock; log: Logger }): Audit {
  return {
    async record(actor, action, target, ip = null, detail) {
      const entry = {
        at: clock.now(),
        actor: typeof actor === 'string' ? actor : describeActor(actor),
        action,
        target,
        ip,
        detail: detail ?? null,
      };
      log.info({ audit: entry }, action);
      await store.appendAudit(entry);
    },
  };
}
