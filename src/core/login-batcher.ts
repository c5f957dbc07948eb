import type { AuditEntry, Logger, LoginRecord, Rehash, Store } from './ports.js';

export interface LoginBatcher {
  recordLogin(record: LoginRecord): void;
  recordRehash(rehash: Rehash): void;
  recordAudit(entry: AuditEntry): void;
  /** Writes what is pending now; the server calls it at shutdown. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Entries kept at most between two writes; beyond it the oldest audit entries of a flood are dropped and counted. */
const MAX_PENDING_AUDIT = 50_000;

/**
 * Last connections, re-hashes and SMTP audit entries, written at most once per interval in one
 * transaction, so that N logins a second cost one write a second and no login waits for the disk.
 */
export function createLoginBatcher({ store, log, intervalMs = 1000 }: { store: Store; log: Logger; intervalMs?: number }): LoginBatcher {
  let logins = new Map<number, LoginRecord>();
  let rehashes = new Map<number, Rehash>();
  let audit: AuditEntry[] = [];
  let dropped = 0;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const write = async () => {
    timer = null;
    if (logins.size + rehashes.size + audit.length === 0) return;
    const batch = { logins: [...logins.values()], rehashes: [...rehashes.values()], audit };
    logins = new Map();
    rehashes = new Map();
    audit = [];
    if (dropped > 0) {
      log.warn({ dropped }, 'audit entries dropped under load');
      dropped = 0;
    }
    try {
      await store.applyLoginBatch(batch);
    } catch (err) {
      // Last-connection times are informative; a failed batch is logged, not retried forever.
      log.warn({ err, logins: batch.logins.length, rehashes: batch.rehashes.length, audit: batch.audit.length }, 'login batch not written');
    }
  };
  const schedule = () => {
    if (!timer) {
      timer = setTimeout(() => {
        running = running.then(write);
      }, intervalMs);
      timer.unref();
    }
  };
  return {
    recordLogin(record) {
      const prev = logins.get(record.accountId);
      if (!prev || prev.at <= record.at) logins.set(record.accountId, record);
      schedule();
    },
    recordRehash(rehash) {
      rehashes.set(rehash.accountId, rehash);
      schedule();
    },
    recordAudit(entry) {
      if (audit.length >= MAX_PENDING_AUDIT) {
        audit.shift();
        dropped++;
      }
      audit.push(entry);
      schedule();
    },
    async flush() {
      if (timer) clearTimeout(timer);
      running = running.then(write);
      await running;
    },
    async stop() {
      await this.flush();
    },
  };
}
