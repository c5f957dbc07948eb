import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createAccountEvents } from '../../core/events.js';
import type { AccountEvents, Logger } from '../../core/ports.js';

const CHANNEL = 'mailpass_accounts';
/** How long a lost LISTEN connection waits before it connects again (doubling up to the maximum). */
const RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export interface ClusterEvents extends AccountEvents {
  /** Connects the listening client; the events work (in this process, and by polling) before it does. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * SPEC §12: account events shared by every process on one PostgreSQL database. A change made here
 * is told to this process at once and to the others with NOTIFY after it committed; a dedicated
 * connection LISTENs, and connects and listens again when it is lost. While it is away, the live
 * SMTP sessions' polling (every 2 s) still finds every change.
 */
export function createPgAccountEvents({ url, pool, log }: { url: string; pool: pg.Pool; log: Logger }): ClusterEvents {
  const local = createAccountEvents();
  // Our own notifications come back to us too: they carry this process's mark and are skipped.
  const self = randomBytes(8).toString('hex');
  let client: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  let delay = RETRY_MS;

  const received = (payload: string | undefined) => {
    const [from, kind, idText] = (payload ?? '').split(':');
    const id = Number(idText);
    if (from === self || !Number.isSafeInteger(id)) return;
    if (kind === 'changed') local.emitChanged(id);
    else if (kind === 'app-revoked') local.emitAppPasswordRevoked(id);
  };

  const connect = async () => {
    const c = new pg.Client({ connectionString: url, application_name: 'mailpass-listen', connectionTimeoutMillis: 5_000 });
    let gone = false;
    const lost = (err?: Error) => {
      if (gone) return;
      gone = true;
      if (client === c) client = null;
      c.end().catch(() => {});
      if (closed) return;
      log.warn({ err: err?.message, retryMs: delay }, 'LISTEN connection lost; polling covers the gap');
      retry = setTimeout(() => {
        retry = null;
        void connect();
      }, delay);
      retry.unref();
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    };
    c.on('notification', (m) => received(m.payload));
    c.on('error', lost);
    c.on('end', () => lost());
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      if (closed) return void c.end();
      client = c;
      delay = RETRY_MS;
    } catch (err) {
      lost(err as Error);
    }
  };

  const notify = (kind: string, id: number) => {
    pool.query('SELECT pg_notify($1, $2)', [CHANNEL, `${self}:${kind}:${id}`]).catch((err: unknown) => log.warn({ err, kind, id }, 'NOTIFY failed; other nodes find the change by polling'));
  };

  return {
    emitChanged(id) {
      local.emitChanged(id);
      notify('changed', id);
    },
    onChanged: local.onChanged,
    emitAppPasswordRevoked(id) {
      local.emitAppPasswordRevoked(id);
      notify('app-revoked', id);
    },
    onAppPasswordRevoked: local.onAppPasswordRevoked,
    start: connect,
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => {});
      client = null;
    },
  };
}
