import type { AccountEvents, Logger } from '../core/ports.js';

/** What an authenticated SMTP session knows of its account. */
export interface SessionUser {
  accountId: number;
  login: string;
  kind: 'mailbox' | 'credential';
  domainName: string;
  passwordVersion: number;
  /** The app password it logged in with, if any: revoking it ends this session. */
  appPasswordId?: number;
}

/** The part of an smtp-server connection that ending it needs. */
export interface Closable {
  send(code: number, message: string, context?: false): void;
  close(): void;
}

interface Live {
  user: SessionUser;
  inMessage: boolean;
  endAfterMessage: boolean;
}

export const CHANGED_REPLY = '4.7.0 Credentials changed or revoked, closing connection';

export interface LiveSessions {
  add(conn: Closable, user: SessionUser): void;
  remove(conn: Closable): void;
  setInMessage(conn: Closable, inMessage: boolean): void;
  /** True when the account changed during the message: reply to it, then end the session. */
  mustEndAfterMessage(conn: Closable): boolean;
  endNow(conn: Closable): void;
  readonly size: number;
  stop(): void;
}

/**
 * Authenticated SMTP sessions by account. A password change, reset, delete or disable ends them
 * with 421 4.7.0 (SPEC §6): idle ones at once, one in a message after that message. Changes made
 * in this process arrive as events; changes made by another process (the CLI) are found by
 * polling the password versions of the accounts that have live sessions.
 */
export function createLiveSessions({
  readStates,
  events,
  log,
  pollMs = 2000,
}: {
  readStates: (ids: readonly number[]) => Promise<Map<number, { passwordVersion: number; disabled: boolean }>>;
  events: AccountEvents;
  log: Logger;
  pollMs?: number;
}): LiveSessions {
  const byConn = new Map<Closable, Live>();
  const byAccount = new Map<number, Set<Closable>>();

  const endNow = (conn: Closable) => {
    const live = byConn.get(conn);
    if (!live) return;
    remove(conn);
    try {
      conn.send(421, CHANGED_REPLY, false);
    } finally {
      conn.close();
    }
  };

  const remove = (conn: Closable) => {
    const live = byConn.get(conn);
    if (!live) return;
    byConn.delete(conn);
    const set = byAccount.get(live.user.accountId);
    set?.delete(conn);
    if (set && set.size === 0) byAccount.delete(live.user.accountId);
  };

  /** Ends the account's sessions, or only those not authenticated with `currentVersion`. */
  const endAccount = (accountId: number, currentVersion?: number) => {
    for (const conn of [...(byAccount.get(accountId) ?? [])]) {
      const live = byConn.get(conn)!;
      if (currentVersion !== undefined && live.user.passwordVersion === currentVersion) continue;
      if (live.inMessage) live.endAfterMessage = true;
      else endNow(conn);
    }
  };

  const unsubscribe = events.onChanged((accountId) => endAccount(accountId));
  const unsubscribeApp = events.onAppPasswordRevoked((appPasswordId) => {
    for (const [conn, live] of [...byConn]) {
      if (live.user.appPasswordId !== appPasswordId) continue;
      if (live.inMessage) live.endAfterMessage = true;
      else endNow(conn);
    }
  });

  let polling = false;
  const poll = setInterval(() => {
    if (polling || byAccount.size === 0) return;
    polling = true;
    const ids = [...byAccount.keys()];
    readStates(ids)
      .then((versions) => {
        for (const id of ids) {
          const v = versions.get(id);
          // Gone or disabled: every session ends; changed: those that logged in with an older password.
          endAccount(id, !v || v.disabled ? undefined : v.passwordVersion);
        }
      })
      .catch((err: unknown) => log.warn({ err }, 'live session check failed'))
      .finally(() => {
        polling = false;
      });
  }, pollMs);
  poll.unref();

  return {
    add(conn, user) {
      byConn.set(conn, { user, inMessage: false, endAfterMessage: false });
      let set = byAccount.get(user.accountId);
      if (!set) byAccount.set(user.accountId, (set = new Set()));
      set.add(conn);
    },
    remove,
    setInMessage(conn, inMessage) {
      const live = byConn.get(conn);
      if (live) live.inMessage = inMessage;
    },
    mustEndAfterMessage: (conn) => byConn.get(conn)?.endAfterMessage ?? false,
    endNow,
    get size() {
      return byConn.size;
    },
    stop() {
      clearInterval(poll);
      unsubscribe();
      unsubscribeApp();
    },
  };
}
