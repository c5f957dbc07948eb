import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';

/** The login forms, and SPEC §16's pages opened from a mail: the only ones an anonymous visitor posts. */
const LOGIN_FORMS = new Set(['/login', '/admin/login', '/login/forgot']);
const LINK_FORMS = /^\/login\/(reset|recovery)\/[A-Za-z0-9_-]{1,64}(\/code)?$/;
/** How long a login page's token is good for: a page left open over lunch still logs in. */
const TOKEN_SECONDS = 4 * 3600;
const TOKEN = /^(\d{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

/**
 * Issue 29: CSRF protection of the login forms without a stored session, so that a visitor who
 * only looks at a login page (a crawler, a flood) writes no session row. The page carries a token
 * the server can check on its own (an expiry and a nonce under an HMAC with the cookie key), and a
 * login post must come from the panel's own pages: a browser's `Sec-Fetch-Site` or `Origin` that
 * names another site is refused (login CSRF: logging a victim's browser into the attacker's
 * account). A visitor that has a session keeps the session's synchronised token, as every other
 * form does.
 */
export function loginCsrf(secret: string, { maskToken, unmaskToken, now }: { maskToken(t: string): string; unmaskToken(t: unknown): string | undefined; now(): number }) {
  const mac = (expires: string, nonce: string) => createHmac('sha256', secret).update(`login-csrf\0${expires}\0${nonce}`).digest('base64url');
  /** A visitor without a session of its own (no login, no second step under way, no synchronised token). */
  const anonymous = (req: Request) => !req.session?.owner && !req.session?.pending && !req.session?.csrfToken;
  const anonymousLoginForm = (req: Request) => (LOGIN_FORMS.has(req.path) || LINK_FORMS.test(req.path)) && anonymous(req);

  /** The token of a login page for a visitor without a session. */
  const pageToken = () => {
    const expires = String(now() + TOKEN_SECONDS);
    const nonce = randomBytes(16).toString('base64url');
    return maskToken(`${expires}.${nonce}.${mac(expires, nonce)}`);
  };

  const genuine = (sent: string | undefined) => {
    const m = TOKEN.exec(sent ?? '');
    if (!m || Number(m[1]) <= now()) return false;
    const expected = Buffer.from(mac(m[1]!, m[2]!));
    return timingSafeEqual(Buffer.from(m[3]!), expected);
  };

  /** A browser says where a request comes from; another site's post is refused. */
  const sameSite = (req: Request) => {
    const site = req.get('sec-fetch-site');
    if (site !== undefined) return site === 'same-origin' || site === 'none';
    const origin = req.get('origin');
    if (origin === undefined || origin === 'null') return origin === undefined;
    try {
      return new URL(origin).host === req.get('host');
    } catch {
      return false;
    }
  };

  /**
   * In front of the synchronised check: a post of a visitor without a session passes with a login
   * page's token from a page of this site (a login; elsewhere the route sends it to a login page).
   * Everything else, and every visitor with a session, meets the synchronised check (403 without).
   */
  const protect = (synchronised: RequestHandler): RequestHandler => (req, res, next) => {
    if (req.method === 'POST' && anonymous(req) && genuine(unmaskToken(req.body?._csrf)) && sameSite(req)) return next();
    synchronised(req, res, next);
  };

  return { anonymousLoginForm, pageToken, protect };
}
