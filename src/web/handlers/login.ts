import type { Request, RequestHandler, Response } from 'express';
import { AuthError, RateLimitedError } from '../../core/errors.js';
import type { LoginResult, Principal } from '../../core/logins.js';
import type { LoginRealm } from '../../core/login-names.js';
import type { SessionOwner } from '../../core/ports.js';
import type { Services } from '../../services.js';
import { AdminLoginForm, LoginForm, formView, parseForm } from '../forms.js';
import { browserMarkOf, setBrowserMark } from '../known-browser.js';
import { startPending, startSession } from '../middleware/auth.js';

// The panel's login, once for both realms (SPEC §4.1 mailbox owners, §4.2 admins): the form,
// the first step, where a login that passed goes, and the log-out. Only the words and paths differ.

export const PASSWORD_UPDATED = 'Your password was updated.';
export const PASSWORD_RESET = 'Your password was changed, and every session of the mailbox was ended. Log in with the new password.';

interface Realm {
  view: string;
  /** The form's name field, and what a failure says. */
  field: 'email' | 'username';
  failed: string;
  paths: { login: string; step: string; home: string; security: string; account: string };
}

export const REALMS: Record<LoginRealm, Realm> = {
  account: {
    view: 'user/login',
    field: 'email',
    failed: 'The email address or password is incorrect.',
    paths: { login: '/login', step: '/login/second-factor', home: '/account', security: '/account/security', account: '/account' },
  },
  admin: {
    view: 'admin/login',
    field: 'username',
    failed: 'The username or password is incorrect.',
    paths: { login: '/admin/login', step: '/admin/login/second-factor', home: '/admin/domains', security: '/admin/account/security', account: '/admin/account' },
  },
};

/** The session owner a login's principal is, with its password version; null for what is not a panel login. */
export function ownerOf(principal: Principal, realm: LoginRealm): { owner: SessionOwner; pwv: number } | null {
  if (realm === 'admin' && principal.kind === 'admin') return { owner: `admin:${principal.admin.id}`, pwv: principal.admin.passwordVersion };
  if (realm === 'account' && principal.kind === 'account') return { owner: `mailbox:${principal.account.id}`, pwv: principal.account.passwordVersion };
  return null;
}

/** GET /login, /admin/login: the form (a signed-in owner goes home). */
export const showLogin =
  (realm: LoginRealm): RequestHandler =>
  (req, res) => {
    const signedIn = res.locals.actor?.kind === (realm === 'admin' ? 'admin' : 'mailbox');
    if (signedIn) return res.redirect(303, REALMS[realm].paths.home);
    const notice = req.query.updated === '1' ? PASSWORD_UPDATED : req.query.reset === '1' && realm === 'account' ? PASSWORD_RESET : null;
    res.render(REALMS[realm].view, { values: {}, notice });
  };

/** POST /login, /admin/login: the password step; a second factor continues at the realm's second step. */
export const login =
  (svc: Services, realm: LoginRealm): RequestHandler =>
  async (req, res) => {
    const { view, field, failed, paths } = REALMS[realm];
    formView(res, view, {}, req.body);
    const form = realm === 'admin' ? parseForm(AdminLoginForm, req.body) : parseForm(LoginForm, req.body);
    const { password } = form;
    const name = 'username' in form ? form.username : form.email;
    const result = await svc.logins.attempt({ protocol: 'web', realm, name, password, ip: req.ip ?? null, browserMark: browserMarkOf(req), userAgent: req.get('user-agent') });
    if (!result.ok) {
      if (result.reason !== 'bad-credentials') throw new RateLimitedError(result.retryAfterSeconds);
      return res.status(401).render(view, { values: { [field]: name }, errors: { form: [failed] } });
    }
    const who = ownerOf(result.principal, realm);
    if (!who) throw new AuthError();
    if (result.secondFactor) {
      await startPending(req, who.owner, who.pwv, svc.clock.now());
      return res.redirect(303, paths.step);
    }
    res.redirect(303, await completeLogin(svc, req, res, realm, result));
  };

/**
 * A login that passed (its password, or its second step): the browser's known-browser mark, a new
 * session for the owner; returns where to go. `passwordAt`: when the password was typed.
 * `idToken`: after a single sign-on (SPEC §18), kept for the provider's logout, also through the second step.
 */
export async function completeLogin(
  svc: Services,
  req: Request,
  res: Response,
  realm: LoginRealm,
  result: Extract<LoginResult, { ok: true }>,
  passwordAt = svc.clock.now(),
  idToken = req.session.pending?.idToken,
) {
  const who = ownerOf(result.principal, realm);
  if (!who) throw new AuthError();
  if (result.browserMark) setBrowserMark(req, res, result.browserMark, REALMS[realm].paths.login);
  await startSession(req, who.owner, who.pwv, svc.clock.now(), passwordAt);
  if (idToken) req.session.oidcIdToken = idToken;
  return result.principal.kind === 'admin' && result.principal.admin.mustChangePassword ? REALMS.admin.paths.account : REALMS[realm].paths.home;
}

