import type { RequestHandler } from 'express';
import QRCode from 'qrcode';
import { RateLimitedError, ValidationError } from '../../core/errors.js';
import type { WebAuthnContext } from '../../core/second-factor-proof.js';
import type { LoginRealm } from '../../core/login-names.js';
import type { Services } from '../../services.js';
import { CodeForm, NameForm, formView, parseForm } from '../forms.js';
import { setFlash, takeFlash } from '../flash.js';
import { browserMarkOf } from '../known-browser.js';
import { domainOf } from '../middleware/domain.js';
import { actorOf } from '../middleware/auth.js';
import { completeLogin, REALMS } from './login.js';

const VIEW_STEP = 'second-factor';
const VIEW_SECURITY = 'account-security';
/** A password accepted this long ago still waits for its second factor; then the login starts over. */
const PENDING_SECONDS = 300;
const FAILED = 'The code is not right, or was used already.';

const paths = (realm: LoginRealm) => REALMS[realm].paths;

const pendingOf = (svc: Services, req: Parameters<RequestHandler>[0]) => {
  const p = req.session?.pending;
  return p && p.at + PENDING_SECONDS > svc.clock.now() ? p : null;
};

/** GET /login/second-factor (admins: /admin/login/second-factor): field `Code`. */
export const showSecondStep = (svc: Services, realm: LoginRealm): RequestHandler => (req, res) => {
  if (!pendingOf(svc, req)) return res.redirect(303, paths(realm).login);
  res.render(VIEW_STEP, { action: paths(realm).step, values: {} });
};

export const secondStep = (svc: Services, realm: LoginRealm): RequestHandler => async (req, res) => {
  const pending = pendingOf(svc, req);
  if (!pending) return res.redirect(303, paths(realm).login);
  formView(res, VIEW_STEP, { action: paths(realm).step }, req.body);
  const form = parseForm(CodeForm, req.body);
  const result = await svc.logins.secondStep({ realm, owner: pending.owner, pwv: pending.pwv, proof: { code: form.code }, ip: req.ip ?? null, userAgent: req.get('user-agent'), browserMark: browserMarkOf(req) });
  if (!result.ok) {
    if (result.reason !== 'bad-credentials') throw new RateLimitedError(result.retryAfterSeconds);
    return res.status(401).render(VIEW_STEP, { action: paths(realm).step, values: {}, errors: { code: [FAILED] } });
  }
  res.redirect(303, await completeLogin(svc, req, res, realm, result, pending.at));
};

const panelActor = (res: Parameters<RequestHandler>[1]) => actorOf(res, 'mailbox', 'admin');

/** The security page's locals: the state, and while TOTP is off a secret to scan (kept in the session until confirmed). */
const securityLocals = async (svc: Services, req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1], realm: LoginRealm) => {
  const actor = panelActor(res);
  const status = await svc.secondFactors.status(actor);
  let setup: { secret: string; qr: string } | null = null;
  if (!status.totp) {
    const { secret, uri } = svc.secondFactors.newTotp(actor, req.session.totpSecret);
    req.session.totpSecret = secret;
    setup = { secret, qr: await QRCode.toDataURL(uri, { margin: 1, width: 200 }) };
  }
  const appPasswords = actor.kind === 'mailbox' ? await svc.appPasswords.list(actor) : null;
  return {
    status,
    setup,
    appPasswords,
    paths: paths(realm),
    required: res.locals.mustAddSecondFactor === true,
    appleProfile: svc.config.clients.imap !== null,
    confirmNeeded: !svc.sessions.passwordIsRecent(req.session),
  };
};

/** `Confirm password` (issue 29): the owner types its password again; adding a way in is open for the next 5 minutes. */
export const confirmPassword = (svc: Services, realm: LoginRealm): RequestHandler => async (req, res) => {
  const ok = await svc.logins.confirmPassword(panelActor(res), req.body?.current_password, req.ip ?? null, req.get('user-agent'));
  if (!ok) {
    res.set('Cache-Control', 'no-store');
    return res.status(422).render(VIEW_SECURITY, { ...(await securityLocals(svc, req, res, realm)), values: {}, errors: { current_password: ['Is not correct.'] } });
  }
  req.session.passwordAt = svc.clock.now();
  setFlash(req, 'success', 'Password confirmed: you can add an app password, an authenticator app or a passkey for the next 5 minutes.');
  res.redirect(303, paths(realm).security);
};

/** GET /account/security (admins: /admin/account/security). */
export const showSecurity = (svc: Services, realm: LoginRealm): RequestHandler => async (req, res) => {
  res.set('Cache-Control', 'no-store');
  res.render(VIEW_SECURITY, { ...(await securityLocals(svc, req, res, realm)), values: {}, flash: takeFlash(req) });
};

/** `Turn on`: the code proves the app has the secret; the 10 recovery codes follow, once. */
export const turnOnTotp = (svc: Services, realm: LoginRealm): RequestHandler => async (req, res) => {
  formView(res, VIEW_SECURITY, await securityLocals(svc, req, res, realm), req.body);
  const form = parseForm(CodeForm, req.body);
  const codes = await svc.secondFactors.confirmTotp(panelActor(res), req.session.totpSecret, form.code, req.ip);
  delete req.session.totpSecret;
  res.set('Cache-Control', 'no-store');
  res.render(VIEW_SECURITY, { ...(await securityLocals(svc, req, res, realm)), recoveryCodes: codes, values: {} });
};

/** `Create app password`: generated, shown once on this response (SPEC §11). */
export const createAppPassword = (svc: Services): RequestHandler => async (req, res) => {
  formView(res, VIEW_SECURITY, await securityLocals(svc, req, res, 'account'), req.body);
  const form = parseForm(NameForm, req.body);
  const { appPassword, password } = await svc.appPasswords.create(actorOf(res, 'mailbox'), form.name, req.ip);
  res.set('Cache-Control', 'no-store');
  res.status(201).render(VIEW_SECURITY, { ...(await securityLocals(svc, req, res, 'account')), createdApp: { name: appPassword.name, password }, values: {} });
};

export const revokeAppPassword = (svc: Services): RequestHandler => async (req, res) => {
  const appPassword = await svc.appPasswords.revoke(actorOf(res, 'mailbox'), req.params.id, req.ip);
  setFlash(req, 'success', `App password ${appPassword.name} revoked; its mail sessions have ended.`);
  res.redirect(303, '/account/security');
};

/** A super admin removes a mailbox's second factors; its sessions end. */
export const removeMailboxFactors = (svc: Services): RequestHandler => async (req, res) => {
  await svc.secondFactors.removeFromMailbox(res.locals.actor!, domainOf(res), req.params.address, req.ip);
  setFlash(req, 'success', 'Second factors removed; its sessions have ended.');
  res.redirect(303, `/admin/domains/${encodeURIComponent(domainOf(res).name)}/mailboxes/${encodeURIComponent(String(req.params.address))}`);
};

export const removeAdminFactors = (svc: Services): RequestHandler => async (req, res) => {
  await svc.secondFactors.removeFromAdmin(res.locals.actor!, req.params.username, req.ip);
  setFlash(req, 'success', 'Second factors removed; its sessions have ended.');
  res.redirect(303, `/admin/admins/${encodeURIComponent(String(req.params.username))}`);
};

/**
 * Where WebAuthn binds passkeys: PUBLIC_URL, never the request's Host header (a proxy that passes
 * any Host on would let a look-alike site's origin through, and a passkey would stop being phishing
 * resistant). Unset, only the browser on this machine may use passkeys (localhost, a secure context).
 */
const bindingOf = (svc: Services, req: Parameters<RequestHandler>[0]): WebAuthnContext | null => {
  if (svc.config.publicUrl) return { rpID: new URL(svc.config.publicUrl).hostname, origin: svc.config.publicUrl };
  if (req.hostname === 'localhost') {
    // The port the browser connected to, as its origin names it (none for the protocol's own).
    const port = req.socket.localPort;
    const shown = port === undefined || port === (req.protocol === 'https' ? 443 : 80) ? '' : `:${port}`;
    return { rpID: 'localhost', origin: `${req.protocol}://localhost${shown}` };
  }
  return null;
};
/** The binding of a passkey ceremony, or null once it answered 409 (PUBLIC_URL missing). */
const webAuthnOf = (svc: Services, req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => {
  const ctx = bindingOf(svc, req);
  if (!ctx) res.status(409).json({ message: res.locals.m('Passkeys need PUBLIC_URL, the address of this panel (https://…); ask your administrator to set it.') });
  return ctx;
};

/** Passkey registration, step 1: the options for navigator.credentials.create (JSON). */
export const passkeyOptions = (svc: Services): RequestHandler => async (req, res) => {
  const ctx = webAuthnOf(svc, req, res);
  if (!ctx) return;
  const { options, challenge } = await svc.secondFactors.passkeyRegistration(panelActor(res), ctx);
  req.session.passkeyChallenge = challenge;
  res.set('Cache-Control', 'no-store').json(options);
};

/** Passkey registration, step 2: the browser's answer; the 10 recovery codes follow, once (JSON). */
export const addPasskey = (svc: Services): RequestHandler => async (req, res) => {
  const challenge = req.session.passkeyChallenge;
  delete req.session.passkeyChallenge;
  const ctx = webAuthnOf(svc, req, res);
  if (!ctx) return;
  try {
    const codes = await svc.secondFactors.addPasskey(panelActor(res), req.body, challenge, ctx, req.ip);
    res.set('Cache-Control', 'no-store').json({ message: res.locals.m('The passkey was added. Keep the recovery codes below: they are shown only now.'), recoveryCodes: codes });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    res.status(422).json({ message: Object.values(err.fields).flat().map(res.locals.m).join(' ') });
  }
};

/** The second step with a passkey, step 1: the options for navigator.credentials.get (JSON). */
export const passkeyStepOptions = (svc: Services, realm: LoginRealm): RequestHandler => async (req, res) => {
  const pending = pendingOf(svc, req);
  if (!pending) return void res.status(401).json({ message: res.locals.m('The login expired; start again.'), redirect: paths(realm).login });
  const ctx = webAuthnOf(svc, req, res);
  if (!ctx) return;
  const { options, challenge } = await svc.secondFactors.passkeyLogin(pending.owner, ctx);
  req.session.passkeyChallenge = challenge;
  res.set('Cache-Control', 'no-store').json(options);
};

/** The second step with a passkey, step 2: the browser's assertion; a session on success (JSON). */
export const passkeyStep = (svc: Services, realm: LoginRealm): RequestHandler => async (req, res) => {
  const pending = pendingOf(svc, req);
  if (!pending) return void res.status(401).json({ message: res.locals.m('The login expired; start again.') });
  const challenge = req.session.passkeyChallenge;
  delete req.session.passkeyChallenge;
  const ctx = webAuthnOf(svc, req, res);
  if (!ctx) return;
  const result = await svc.logins.secondStep({
    realm,
    owner: pending.owner,
    pwv: pending.pwv,
    proof: { passkey: req.body, challenge, ctx },
    ip: req.ip ?? null,
    userAgent: req.get('user-agent'),
    browserMark: browserMarkOf(req),
  });
  if (!result.ok) {
    if (result.reason !== 'bad-credentials') return void res.status(429).set('Retry-After', String(result.retryAfterSeconds)).json({ message: res.locals.m('Too many attempts. Please try again later.') });
    return void res.status(401).json({ message: res.locals.m('The passkey was not accepted.') });
  }
  res.json({ redirect: await completeLogin(svc, req, res, realm, result, pending.at) });
};
