import { describeActor, isSuper, type Actor } from './actors.js';
import { NotFoundError } from './errors.js';
import { eventOf } from './webhook-events.js';
import type { AuditEntry, AuditRecord, Clock, Logger, Page, Stores } from './ports.js';

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
  | 'mailbox.import'
  | 'dkim.add'
  | 'dkim.remove'
  | 'mailbox.delete'
  | 'mailbox.disable'
  | 'mailbox.enable'
  | 'domain.create'
  | 'admin.create'
  | 'admin.password'
  | 'admin.update'
  | 'admin.disable'
  | 'admin.enable'
  | 'admin.delete'
  | 'credential.create'
  | 'credential.reset'
  | 'credential.delete'
  | 'token.create'
  | 'token.revoke'
  | 'sessions.end'
  | 'second-factor.add'
  | 'second-factor.remove'
  | 'login.password-accepted'
  | 'app-password.create'
  | 'app-password.revoke'
  | 'send-limits.set'
  | 'send-limit.reached'
  | 'recovery.request'
  | 'recovery.confirm'
  | 'recovery.remove'
  | 'password.reset-link'
  | 'password.recover'
  | 'relay.failed'
  | 'webhook.create'
  | 'webhook.delete'
  | 'webhook.pause'
  | 'webhook.resume'
  | 'webhook.test';

export interface Audit {
  record(actor: Actor | string, action: AuditAction, target: string, ip?: string | null, detail?: string): Promise<void>;
  /**
   * The entry `record` would write, for a store method that writes it in the transaction of the
   * change it describes; `logged(entry)` writes the log line once that transaction committed.
   */
  entry(actor: Actor | string, action: AuditAction, target: string, ip?: string | null, detail?: string): AuditEntry;
  logged(entry: AuditEntry): void;
  /** Logs and stores an entry made with `entry`. */
  write(entry: AuditEntry): Promise<void>;
  /** SPEC §4.2: the audit log, newest first, for a super admin. */
  list(actor: Actor, page: unknown): Promise<Page<AuditRecord>>;
}

export const AUDIT_PAGE_SIZE = 100;

/** The audit trail. Never given a secret: callers pass names and addresses only. */
export function createAudit({ stores, clock, log }: { stores: Pick<Stores, 'audit'>; clock: Clock; log: Logger }): Audit {
  const entry: Audit['entry'] = (actor, action, target, ip = null, detail) => {
    const at = clock.now();
    const by = typeof actor === 'string' ? actor : describeActor(actor);
    const e: AuditEntry = { at, actor: by, action, target, ip, detail: detail ?? null };
    // SPEC §19: what the change tells webhooks is written with its entry.
    const told = eventOf(action, by, target, ip, detail ?? null, at);
    if (told) e.event = told;
    return e;
  };
  const logged = ({ event: _event, ...e }: AuditEntry) => log.info({ audit: e }, e.action);
  const write = async (e: AuditEntry) => {
    logged(e);
    await stores.audit.appendAudit(e);
  };
  return {
    entry,
    logged,
    write,
    record: (actor, action, target, ip = null, detail) => write(entry(actor, action, target, ip, detail)),
    async list(actor, pageInput) {
      if (!isSuper(actor)) throw new NotFoundError('admin-not-found', 'Not found');
      const requested = Number(pageInput);
      const page = Number.isInteger(requested) && requested > 0 && requested < 1e6 ? requested : 1;
      const { items, total } = await stores.audit.listAudit({ limit: AUDIT_PAGE_SIZE, offset: (page - 1) * AUDIT_PAGE_SIZE });
      return { items, total, page, pageSize: AUDIT_PAGE_SIZE };
    },
  };
}
