import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { Clock, SessionOwner } from '../../core/ports.js';
import type { SessionService } from '../../core/sessions.js';

/** Session data that mailpass keeps; `owner` is who logged in, `pwv` the password version at login. */
declare module 'express-session' {
  interface SessionData {
    owner: SessionOwner;
    pwv: number;
    createdAt: number;
    /** When the owner last typed its password (issue 29: a lasting way in needs it recent). */
    passwordAt: number;
    flash: { type: 'success' | 'error'; text: string };
    /** A login whose password was right, waiting for its second factor (SPEC §11). */
    pending: { owner: SessionOwner; pwv: number; at: number; idToken?: string };
    /** A TOTP secret shown for scanning, not yet confirmed. */
    totpSecret: string;
    /** The WebAuthn challenge of a passkey ceremony under way. */
    passkeyChallenge: string;
  }
}

/** The store never sees a session id as such: rows are keyed by its SHA-256, so the database file holds no usable id. */
export const sessionKey = (sid: string) => createHash('sha256').update(sid).digest('hex');

const TOUCH_EVERY_SECONDS = 60;

type Callback<T = void> = (err?: unknown, value?: T) => void;

/**
 * express-session's store over the session service. Rows carry their owner, so a password change
 * deletes all of that owner's sessions in its own transaction (Store.setPasswordAndEndSessions).
 */
export class ServiceSessionStore extends session.Store {
  private readonly maxAgeSeconds: number;

  constructor(
    private readonly sessions: SessionService,
    private readonly clock: Clock,
  ) {
    super();
    this.maxAgeSeconds = sessions.maxAgeSeconds;
  }

  private expiry(sess: session.SessionData): number {
    const idle = sess.cookie?.expires ? Math.floor(new Date(sess.cookie.expires).getTime() / 1000) : this.clock.now() + this.maxAgeSeconds;
    // Every session ends at its absolute limit, however active it was.
    return sess.createdAt ? Math.min(idle, sess.createdAt + this.maxAgeSeconds) : idle;
  }

  override get(sid: string, cb: Callback<session.SessionData | null>): void {
    this.sessions.get(sessionKey(sid)).then(
      (row) => cb(undefined, row ? (JSON.parse(row.data) as session.SessionData) : null),
      cb,
    );
  }

  /**
   * The idle expiry last written per session: a touch that would move it by less than a minute
   * is skipped, so browsing costs at most one (fsynced) write a minute per session, not one per page.
   */
  private readonly written = new Map<string, number>();

  private remember(key: string, expiresAt: number) {
    if (this.written.size >= 50_000) this.written.clear();
    this.written.set(key, expiresAt);
  }

  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    const key = sessionKey(sid);
    const expiresAt = this.expiry(sess);
    this.sessions.set(key, sess.owner ?? null, JSON.stringify(sess), expiresAt).then(
      () => {
        this.remember(key, expiresAt);
        cb?.();
      },
      (err) => cb?.(err),
    );
  }

  /**
   * Moves the idle expiry after the page was served. When the database cannot be written (locked,
   * read-only, full) the session simply ends sooner: express-session would otherwise report the
   * failure after the response, when no handler can answer it any more.
   */
  override touch(sid: string, sess: session.SessionData, cb?: Callback): void {
    const key = sessionKey(sid);
    const expiresAt = this.expiry(sess);
    const last = this.written.get(key);
    if (last !== undefined && expiresAt - last < TOUCH_EVERY_SECONDS) return void cb?.();
    this.sessions.touch(key, expiresAt).then(
      () => {
        this.remember(key, expiresAt);
        cb?.();
      },
      () => cb?.(),
    );
  }

  override destroy(sid: string, cb?: Callback): void {
    const key = sessionKey(sid);
    this.written.delete(key);
    this.sessions.destroy(key).then(() => cb?.(), (err) => cb?.(err));
  }
}

/**
 * A form's redirect leaves once its session is stored. express-session sends a response's headers
 * before the store has the session (it holds back only the last byte), and a browser follows a
 * 303 on its headers: with a store that answers over the network, the next page would load the
 * session without the flash message or the login the POST just wrote.
 */
export const saveBeforeRedirect: RequestHandler = (req, res, next) => {
  if (req.method === 'GET' || req.method === 'HEAD') return next();
  const redirect = res.redirect.bind(res) as (...args: unknown[]) => void;
  res.redirect = ((...args: unknown[]) => {
    if (!req.session) return redirect(...args);
    req.session.save((err) => (err ? next(err) : redirect(...args)));
  }) as typeof res.redirect;
  next();
};
