import type { Request, RequestHandler } from 'express';
import type { LoginRealm } from '../../core/login-names.js';
import type { OidcCheck } from '../../core/sso.js';
import type { Services } from '../../services.js';
import { endSession, startPending } from '../middleware/auth.js';
import { completeLogin, ownerOf, REALMS } from './login.js';
import { linkBase } from './recovery.js';

// SPEC §18: `Log in with <OIDC_NAME>`: the way to the identity provider and back. What the
// callback must match (state, nonce, PKCE verifier) waits in the visitor's session, for one use.

/** The redirect URI the identity provider is given, the same for both realms (register it there). */
export const CALLBACK_PATH = '/oidc/callback';
/** How long a login may stay at the provider before its callback is refused. */
const PENDING_SECONDS = 600;

declare module 'express-session' {
  interface SessionData {
    /** A single sign-on under way (SPEC §18). */
    oidc: OidcCheck & { realm: LoginRealm; at: number };
    /** The ID token of the login, for the provider's logout (RP-initiated logout). */
    oidcIdToken: string;
  }
}

const EXPIRED = 'The single sign-on login expired or was not started here: start again.';
const REFUSED = 'The single sign-on did not log you in: ask your administrator whether your account may use it here.';

const callbackUri = (svc: Services, req: Request) => `${linkBase(svc, req)}${CALLBACK_PATH}`;

/** GET /login/oidc, /admin/login/oidc: off (404) unless OIDC_ISSUER is set, and OIDC_USERS for mailboxes. */
export const beginSso =
  (svc: Services, realm: LoginRealm): RequestHandler =>
  async (req, res, next) => {
    const sso = svc.sso;
    if (!sso || (realm === 'account' && !sso.users)) return next();
    const { url, check } = await sso.begin(callbackUri(svc, req));
    req.session.oidc = { ...check, realm, at: svc.clock.now() };
    res.set('Cache-Control', 'no-store');
    res.redirect(303, url);
  };

/** GET /oidc/callback: the identity checked and matched, then a session (or the second step). */
export const finishSso =
  (svc: Services): RequestHandler =>
  async (req, res, next) => {
    const sso = svc.sso;
    if (!sso) return next();
    res.set('Cache-Control', 'no-store');
    const pending = req.session.oidc;
    delete req.session.oidc;
    const realm = pending?.realm ?? 'account';
    const { view } = REALMS[realm];
    if (!pending || pending.at + PENDING_SECONDS < svc.clock.now()) {
      return res.status(400).render(view, { values: {}, errors: { form: [EXPIRED] } });
    }
    const callbackUrl = `${linkBase(svc, req)}${req.originalUrl}`;
    const result = await sso.finish(realm, callbackUrl, pending, req.ip ?? null, req.get('user-agent'));
    if (!result.ok) return res.status(403).render(view, { values: {}, errors: { form: [REFUSED] } });
    const { principal } = result;
    if (result.secondFactor) {
      const who = ownerOf(principal, realm)!;
      await startPending(req, who.owner, who.pwv, svc.clock.now());
      if (result.idToken) req.session.pending!.idToken = result.idToken;
      return res.redirect(303, REALMS[realm].paths.step);
    }
    res.redirect(303, await completeLogin(svc, req, res, realm, { ok: true, principal, cached: false }, svc.clock.now(), result.idToken));
  };

/**
 * POST /logout, /admin/logout: the panel's session ends; after a single sign-on, the browser goes
 * on to end the provider's too when it offers that (RP-initiated logout), and comes back to the login.
 */
export const logoutWithSso =
  (svc: Services, realm: LoginRealm): RequestHandler =>
  async (req, res) => {
    const idToken = req.session.oidcIdToken;
    await endSession(req);
    const login = REALMS[realm].paths.login;
    const provider = svc.sso && idToken ? await svc.sso.logoutUrl(idToken, `${linkBase(svc, req)}${login}`).catch(() => null) : null;
    res.redirect(303, provider ?? login);
  };
