import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { queueCookie } from './late-cookies.js';

/** The login forms: the only ones an anonymous visitor posts. */
const LOGIN_FORMS = new Set(['/login', '/admin/login']);
const COOKIE = 'mp_login_csrf';
const COOKIE_RE = new RegExp(`(?:^|;\\s*)${COOKIE}=([A-Za-z0-9_-]{24}\\.[A-Za-z0-9_-]{43})(?:;|$)`);

/**
 * Issue 29: CSRF protection of the login forms without a stored session, so that a visitor who
 * only looks at a login page (or a crawler, or a flood) writes no session row. The page's token is
 * also set as a cookie signed with the cookie key (double submit); a login post passes when the
 * two match. Only a login form of a visitor without a session takes this way: every other form,
 * and a visitor that has a session, keeps the session's synchronised token.
 */
export function loginCsrf(secret: string, { maskToken, unmaskToken }: { maskToken(t: string): string; unmaskToken(t: unknown): string | undefined }) {
  const sign = (token: string) => createHmac('sha256', secret).update(`login-csrf\0${token}`).digest('base64url');
  const anonymousLoginForm = (req: Request) => LOGIN_FORMS.has(req.path) && !req.session?.owner && !req.session?.pending && !req.session?.csrfToken;

  /** The visitor's token when its cookie holds a genuine one. */
  const cookieToken = (req: Request) => {
    const m = COOKIE_RE.exec(req.headers.cookie ?? '');
    if (!m) return null;
    const [token, mac] = m[1]!.split('.') as [string, string];
    const expected = Buffer.from(sign(token));
    return Buffer.from(mac).length === expected.length && timingSafeEqual(Buffer.from(mac), expected) ? token : null;
  };

  /** The token of a login page for a visitor without a session (a new one's cookie goes out with the page). */
  const pageToken = (req: Request, res: Response) => {
    let token = (res.locals as { loginCsrf?: string }).loginCsrf ?? cookieToken(req);
    if (!token) {
      token = randomBytes(18).toString('base64url');
      (res.locals as { loginCsrf?: string }).loginCsrf = token;
      queueCookie(res, `${COOKIE}=${token}.${sign(token)}; Path=/; HttpOnly; SameSite=Lax${req.secure ? '; Secure' : ''}`);
    }
    return maskToken(token);
  };

  /** Whether a login post carries the token of its page, as set in its cookie. */
  const passes = (req: Request) => {
    const token = cookieToken(req);
    return token !== null && unmaskToken(req.body?._csrf) === token;
  };

  /**
   * In front of the synchronised check. A login post of a visitor without a session passes with its
   * page's token. Any other post of a visitor without a session has no authority to forge (it is
   * sent to a login page, or finds nothing pending): it goes on to the route, which refuses it.
   */
  const protect = (synchronised: RequestHandler): RequestHandler => (req, res, next) => {
    if (req.method === 'POST' && !req.session?.owner && !req.session?.pending) {
      if (!LOGIN_FORMS.has(req.path) || (anonymousLoginForm(req) && passes(req))) return next();
    }
    synchronised(req, res, next);
  };

  return { anonymousLoginForm, pageToken, protect };
}
