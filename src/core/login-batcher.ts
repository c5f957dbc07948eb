import type { Logger, LoginRecord, Rehash, Store } from './ports.js';

export interface LoginBatcher {
  recordLogin(record: LoginRecord): void;
  recordRehash(rehash: Rehash): void;
  /** Writes what is pending now; the server calls it at shutdown. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Last connections and re-hashes, written at most once per interval in one transaction,
 * so that N logins a second cost one write a second and no login waits for the disk.
 */
export function createLoginBatcher({ store, log, intervalMs = 1000 }: { store: Store; log: Logger; intervalMs?: number }): LoginBatcher {
  let logins = new Map<number, LoginRecord>();
  let rehashes = new Map<number, Rehash>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();

  const write = async () => {
    timer = null;
    if (logins.size + rehashes.size === 0) return;
    const batch = { logins: [...logins.values()], rehashes: [...rehashes.values()] };
    logins = new Map();
    rehashes = new Map();
    try {
      await store.applyLoginBatch(batch);
    } catch (err) {
      // Last-connection times are informative; a failed batch is logged, not retried forever.
      log.warn({ err, logins: batch.logins.length, rehashes: batch.rehashes.length }, 'login batch not written');
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
