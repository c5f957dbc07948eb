import { UnavailableError } from '../core/errors.js';
import type { AuditEntry, LoginBatch, LoginBatcher, LoginHistoryRow, Logger, LoginRecord, NetworkSeen, Rehash, Stores } from '../core/ports.js';

/** Entries kept at most between two writes; beyond it the oldest audit entries of a flood are dropped and counted. */
const MAX_PENDING_AUDIT = 50_000;
/** History rows kept at most between two writes (a flood aggregates into few rows; new addresses make new ones). */
const MAX_PENDING_HISTORY = 50_000;

/** (owner, network) pairs remembered as written, at most. */
const MAX_KNOWN_NETWORKS = 100_000;

const historyKey = (r: Pick<LoginHistoryRow, 'accountId' | 'day' | 'protocol' | 'mechanism' | 'result' | 'ip'>) => `${r.accountId}\0${r.day}\0${r.protocol}\0${r.mechanism}\0${r.result}\0${r.ip}`;

/**
 * Last connections, re-hashes and SMTP audit entries, written at most once per interval in one
 * transaction, so that N logins a second cost one write a second and no login waits for the disk.
 */
export function createLoginBatcher({
  stores,
  log,
  intervalMs = 1000,
  onNewNetworks,
}: {
  stores: Pick<Stores, 'loginHistory'>;
  log: Logger;
  intervalMs?: number;
  /** The networks an owner logged in from for the first time, once they are written. */
  onNewNetworks?: (seen: NetworkSeen[]) => void;
}): LoginBatcher {
  let logins = new Map<number, LoginRecord>();
  let rehashes = new Map<number, Rehash>();
  let audit: AuditEntry[] = [];
  let history = new Map<string, LoginHistoryRow>();
  let appLogins = new Map<number, { appPasswordId: number; at: number; ip: string | null }>();
  // The first login of each (owner, network) since the last write is enough to tell whether it is new.
  let networks = new Map<string, NetworkSeen>();
  // Pairs written already: a returning client costs no write (forgotten wholesale when it grows large).
  const knownNetworks = new Set<string>();
  let dropped = 0;

  const addHistory = (row: LoginHistoryRow) => {
    const k = historyKey(row);
    const prev = history.get(k);
    if (prev) {
      prev.count += row.count;
      prev.firstAt = Math.min(prev.firstAt, row.firstAt);
      if (row.lastAt >= prev.lastAt) {
        prev.lastAt = row.lastAt;
        prev.client = row.client;
      }
    } else if (history.size < MAX_PENDING_HISTORY) {
      history.set(k, { ...row });
    } else {
      dropped++;
    }
  };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;

  /** Puts a batch the store could not take back in front of what arrived since, for the next write. */
  const requeue = (batch: LoginBatch) => {
    for (const r of batch.logins) {
      const newer = logins.get(r.accountId);
      if (!newer || newer.at < r.at) logins.set(r.accountId, r);
    }
    for (const r of batch.rehashes) if (!rehashes.has(r.accountId)) rehashes.set(r.accountId, r);
    audit = [...batch.audit, ...audit];
    for (const row of batch.history ?? []) addHistory(row);
    for (const r of batch.appLogins ?? []) if (!appLogins.has(r.appPasswordId)) appLogins.set(r.appPasswordId, r);
    for (const n of batch.networks ?? []) if (!networks.has(`${n.owner}\0${n.network}`)) networks.set(`${n.owner}\0${n.network}`, n);
    if (audit.length > MAX_PENDING_AUDIT) {
      dropped += audit.length - MAX_PENDING_AUDIT;
      audit = audit.slice(-MAX_PENDING_AUDIT);
    }
  };

  const write = async () => {
    timer = null;
    if (logins.size + rehashes.size + audit.length + history.size + appLogins.size + networks.size === 0) return;
    const batch = {
      logins: [...logins.values()],
      rehashes: [...rehashes.values()],
      audit,
      history: [...history.values()],
      appLogins: [...appLogins.values()],
      networks: [...networks.values()],
    };
    appLogins = new Map();
    networks = new Map();
    logins = new Map();
    rehashes = new Map();
    audit = [];
    history = new Map();
    if (dropped > 0) {
      log.warn({ dropped }, 'audit entries or login history dropped under load');
      dropped = 0;
    }
    try {
      const fresh = await stores.loginHistory.applyLoginBatch(batch);
      if (knownNetworks.size + batch.networks.length > MAX_KNOWN_NETWORKS) knownNetworks.clear();
      for (const n of batch.networks) knownNetworks.add(`${n.owner}\0${n.network}`);
      if (fresh.length > 0) onNewNetworks?.(fresh);
    } catch (err) {
      const retry = err instanceof UnavailableError && !stopped;
      log.warn({ err, logins: batch.logins.length, rehashes: batch.rehashes.length, audit: batch.audit.length, history: batch.history.length, retry }, 'login batch not written');
      // A lock or a full disk passes: keep the batch (audit entries above all) for the next write.
      // Any other failure would fail again; it is logged, not retried forever.
      if (retry) {
        requeue(batch);
        schedule();
      }
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
    recordAppLogin(record) {
      appLogins.set(record.appPasswordId, record);
      schedule();
    },
    recordNetwork(seen) {
      const key = `${seen.owner}\0${seen.network}`;
      if (knownNetworks.has(key) || networks.has(key) || networks.size >= MAX_PENDING_HISTORY) return;
      networks.set(key, seen);
      schedule();
    },
    recordAttempt({ accountId, at, protocol, mechanism, result, ip, client }) {
      addHistory({ accountId, day: Math.floor(at / 86_400), protocol, mechanism, result, ip: ip ?? '', client, firstAt: at, lastAt: at, count: 1 });
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
      stopped = true;
      await this.flush();
    },
  };
}
