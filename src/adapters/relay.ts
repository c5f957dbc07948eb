import type { Logger, Relay, RelayTransaction, RelayVerdict } from '../core/ports.js';
import { RelayMisconfigured, RelayUnavailable } from '../core/ports.js';
import { RelayConnection, type RelayReply, type RelayTarget } from './relay-client.js';

export type RelayResult = 'relayed' | 'refused' | 'deferred' | 'failed';

export interface RelayOptions {
  target: RelayTarget;
  /** Connections to the relay at most; a transaction waits for a free one. */
  maxConnections: number;
  /** An idle connection is closed (QUIT) after this long. */
  idleMs?: number;
  log: Logger;
  /** Each message's outcome at the end of its data, for /metrics. */
  onResult?: (result: RelayResult) => void;
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;

/** The relay's reply as the client gets it: its code, and its text with an enhanced status code. */
export function verdictOf(reply: RelayReply): RelayVerdict {
  const text = reply.lines.join(' ').trim();
  const fallback = `${String(reply.code)[0]}.0.0`;
  return { code: reply.code, text: ENHANCED.test(text) ? text : `${fallback} ${text}`.trim() };
}

const DOT = Buffer.from('.');

/**
 * Dot-stuffing (RFC 5321 §4.5.2) of message data as the client sent it, chunk by chunk: a line
 * that begins with "." gets another. The end of data is written by the transaction.
 */
export class DotStuffer {
  private atLineStart = true;
  stuff(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (this.atLineStart && chunk[i] === 0x2e) {
        parts.push(chunk.subarray(from, i), DOT);
        from = i;
      }
      // A bare CR ends a line for some servers (SMTP smuggling): a dot after one is stuffed too.
      this.atLineStart = chunk[i] === 0x0a || chunk[i] === 0x0d;
    }
    if (from === 0) return chunk;
    parts.push(chunk.subarray(from));
    return Buffer.concat(parts);
  }
  /** Whether the data so far ended a line (else the end of data needs a CRLF first). */
  get endsLine() {
    return this.atLineStart;
  }
}

/**
 * SPEC §9: mailpass as a before-queue relay. Connections to the relay are pooled and bounded;
 * each client transaction borrows one from MAIL FROM to the end of its data and gives it back.
 */
export function createRelay({ target, maxConnections, idleMs = 30_000, log, onResult }: RelayOptions): Relay {
  const idle: Array<{ conn: RelayConnection; timer: NodeJS.Timeout }> = [];
  const waiting: Array<{ resolve: (c: RelayConnection | null) => void }> = [];
  let open = 0;
  let closing = false;

  const opened = async (): Promise<RelayConnection> => {
    open++;
    try {
      return await RelayConnection.open(target);
    } catch (err) {
      open--;
      wakeOne();
      if (err instanceof RelayMisconfigured) log.error({ err: err.message }, 'the relay refused mailpass: check RELAY_URL');
      throw err;
    }
  };

  /** A waiter may open a connection of its own now that one closed. */
  const wakeOne = () => waiting.shift()?.resolve(null);

  const take = async (): Promise<RelayConnection> => {
    for (;;) {
      const spare = idle.pop();
      if (spare) {
        clearTimeout(spare.timer);
        if (!spare.conn.closed) return spare.conn;
        open--;
        continue;
      }
      if (open < maxConnections) return opened();
      const handed = await new Promise<RelayConnection | null>((resolve) => {
        const timer = setTimeout(() => {
          const i = waiting.indexOf(entry);
          if (i >= 0) waiting.splice(i, 1);
          resolve(null);
          timedOut = true;
        }, target.timeoutMs);
        let timedOut = false;
        const entry = {
          resolve: (c: RelayConnection | null) => {
            clearTimeout(timer);
            if (!timedOut) resolve(c);
          },
        };
        waiting.push(entry);
      });
      if (handed) return handed;
      if (open >= maxConnections) throw new RelayUnavailable(`every one of the ${maxConnections} relay connections stayed busy for ${target.timeoutMs} ms`);
    }
  };

  const give = (conn: RelayConnection) => {
    if (closing || conn.closed || !conn.reusable) {
      if (!conn.closed) conn.quit();
      open--;
      return wakeOne();
    }
    const next = waiting.shift();
    if (next) return next.resolve(conn);
    const timer = setTimeout(() => {
      const i = idle.findIndex((e) => e.conn === conn);
      if (i >= 0) idle.splice(i, 1);
      open--;
      conn.quit();
    }, idleMs);
    timer.unref();
    idle.push({ conn, timer });
  };

  const begin = async (): Promise<RelayTransaction> => {
    let conn: RelayConnection | null = await take().catch((err: unknown) => {
      // The message never got to the relay: counted, as the client is told to try again.
      onResult?.('failed');
      throw err;
    });
    let fresh = false;
    /** 'idle' between transactions, 'open' after MAIL FROM was accepted. */
    let state: 'idle' | 'open' = 'idle';

    const current = () => {
      if (!conn) throw new RelayUnavailable('the transaction was released');
      return conn;
    };
    const broken = () => {
      conn?.destroy();
      if (conn) {
        open--;
        wakeOne();
      }
      conn = null;
    };

    const tx: RelayTransaction = {
      async mailFrom(address) {
        try {
          // A client that said RSET (or MAIL again) starts over; so does the relay.
          if (state === 'open') {
            state = 'idle';
            const reset = await current().command('RSET');
            if (reset.code !== 250) throw new RelayUnavailable(`the relay refused RSET: ${reset.code}`);
          }
          const reply = await current().command(`MAIL FROM:<${address}>`);
          if (reply.code === 250) state = 'open';
          fresh = false;
          return verdictOf(reply);
        } catch (err) {
          if (!(err instanceof RelayUnavailable) || fresh) throw err;
          // A pooled connection the relay had closed meanwhile: one more try on a new one.
          broken();
          conn = await opened();
          fresh = true;
          return tx.mailFrom(address);
        }
      },

      async rcptTo(address) {
        return verdictOf(await current().command(`RCPT TO:<${address}>`));
      },

      async data(message, complete) {
        const c = current();
        const start = await c.command('DATA');
        if (start.code !== 354) {
          const verdict = verdictOf(start);
          onResult?.(start.code >= 500 ? 'refused' : 'deferred');
          return verdict;
        }
        const stuffer = new DotStuffer();
        try {
          for await (const chunk of message) {
            // Back-pressure: a slow relay slows this sender's data, nobody else's.
            if (!c.write(stuffer.stuff(chunk))) await c.drained();
          }
        } catch (err) {
          onResult?.('failed');
          broken();
          throw err instanceof RelayUnavailable ? err : new RelayUnavailable('relaying the message failed', { cause: err });
        }
        if (!complete()) {
          // Never send the end of data: the relay discards a message whose data did not end.
          onResult?.('failed');
          broken();
          return null;
        }
        try {
          c.write(stuffer.endsLine ? '.\r\n' : '\r\n.\r\n');
          const end = await c.read();
          state = 'idle';
          onResult?.(end.code < 300 ? 'relayed' : end.code >= 500 ? 'refused' : 'deferred');
          return verdictOf(end);
        } catch (err) {
          onResult?.('failed');
          broken();
          throw err;
        }
      },

      release() {
        const c = conn;
        conn = null;
        if (!c) return;
        if (state === 'idle' || c.closed) return give(c);
        // A transaction left open (RSET by the client, a refused message, a closed session).
        c.command('RSET').then(
          (r) => {
            if (r.code !== 250) c.destroy();
            give(c);
          },
          () => give(c),
        );
      },
    };
    return tx;
  };

  return {
    begin,
    async close() {
      closing = true;
      for (const { conn, timer } of idle.splice(0)) {
        clearTimeout(timer);
        conn.quit();
      }
      for (const w of waiting.splice(0)) w.resolve(null);
    },
  };
}
