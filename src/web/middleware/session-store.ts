import { createHash } from 'node:crypto';
import session from 'express-session';
import type { Clock, SessionOwner, Store } from '../../core/ports.js';

/** Session data that mailpass keeps; `owner` is who logged in, `pwv` the password version at login. */
declare module 'express-session' {
  interface SessionData {
    owner: SessionOwner;
    pwv: number;
    createdAt: number;
    flash: { type: 'success' | 'error'; text: string };
  }
}

/** The store never sees a session id as such: rows are keyed by its SHA-256, so the database file holds no usable id. */
export const sessionKey = (sid: string) => createHash('sha256').update(sid).digest('hex');

type Callback<T = void> = (err?: unknown, value?: T) => void;

/**
 * express-session's store over the mailpass Store. Rows carry their owner, so a password change
 * deletes all of that owner's sessions in its own transaction (Store.setPasswordAndEndSessions).
 */
export class SqliteSessionStore extends session.Store {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly maxAgeSeconds: number,
  ) {
    super();
  }

  private expiry(sess: session.SessionData): number {
    const idle = sess.cookie?.expires ? Math.floor(new Date(sess.cookie.expires).getTime() / 1000) : this.clock.now() + this.maxAgeSeconds;
    // Every session ends at its absolute limit, however active it was.
    return sess.createdAt ? Math.min(idle, sess.createdAt + this.maxAgeSeconds) : idle;
  }

  override get(sid: string, cb: Callback<session.SessionData | null>): void {
    this.store.getSession(sessionKey(sid), this.clock.now()).then(
      (row) => cb(undefined, row ? (JSON.parse(row.data) as session.SessionData) : null),
      cb,
    );
  }

  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    this.store.setSession(sessionKey(sid), sess.owner ?? null, JSON.stringify(sess), this.expiry(sess)).then(() => cb?.(), (err) => cb?.(err));
  }

  /**
   * Moves the idle expiry after the page was served. When the database cannot be written (locked,
   * read-only, full) the session simply ends sooner: express-session would otherwise report the
   * failure after the response, when no handler can answer it any more.
   */
  override touch(sid: string, sess: session.SessionData, cb?: Callback): void {
    this.store.touchSession(sessionKey(sid), this.expiry(sess)).then(() => cb?.(), () => cb?.());
  }

  override destroy(sid: string, cb?: Callback): void {
    this.store.destroySession(sessionKey(sid)).then(() => cb?.(), (err) => cb?.(err));
  }
}
