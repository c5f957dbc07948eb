import type { RequestHandler } from 'express';
import { AuthError } from '../../core/errors.js';
import { POLICY_TEXT } from '../../core/passwords.js';
import type { Services } from '../../services.js';
import { ChangePasswordForm, LoginForm, formView, parseForm } from '../forms.js';
import { endSession, startSession } from '../middleware/auth.js';
import type { LoginLimits } from '../middleware/login-limits.js';

const VIEW_LOGIN = 'user/login';
const VIEW_ACCOUNT = 'user/account';
const FAILED = 'The email address or password is incorrect.';
export const PASSWORD_UPDATED = 'Your password was updated.';

export const showLogin: RequestHandler = (req, res) => {
  if (res.locals.actor?.kind === 'mailbox') return res.redirect(303, '/account');
  res.render(VIEW_LOGIN, { values: {}, notice: req.query.updated === '1' ? PASSWORD_UPDATED : null });
};

export const login = (svc: Services, limits: LoginLimits): RequestHandler => async (req, res) => {
  formView(res, VIEW_LOGIN, {}, req.body);
  const form = parseForm(LoginForm, req.body);
  await limits.consume(req, form.email, () => svc.audit.record(`login:${form.email.slice(0, 320)}`, 'login.failure-limited', form.email.slice(0, 320), req.ip));
  const result = await svc.auth.authenticate(form.email, form.password, { kinds: ['mailbox'], ip: req.ip ?? null, recordConnection: false });
  if (!result.ok) {
    await svc.audit.record(`login:${form.email.slice(0, 320)}`, 'login.failure', form.email.slice(0, 320), req.ip);
    return res.status(401).render(VIEW_LOGIN, { values: { email: form.email }, errors: { form: [FAILED] } });
  }
  await limits.reward(req, res, form.email);
  const { account } = result;
  await startSession(req, `mailbox:${account.id}`, account.passwordVersion, svc.clock.now());
  await svc.audit.record({ kind: 'mailbox', id: account.id, login: account.login }, 'login.success', account.login, req.ip);
  res.redirect(303, '/account');
};

export const showAccount = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const mailbox = await svc.store.findAccountById(actor.kind === 'mailbox' ? actor.id : -1);
  res.render(VIEW_ACCOUNT, { mailbox, policy: POLICY_TEXT, values: {} });
};

/** On success every session of the mailbox ends, this one too, and the browser lands on /login. */
export const updatePassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  if (actor.kind !== 'mailbox') throw new AuthError();
  const mailbox = await svc.store.findAccountById(actor.id);
  formView(res, VIEW_ACCOUNT, { mailbox, policy: POLICY_TEXT }, req.body);
  const form = parseForm(ChangePasswordForm, req.body);
  await svc.mailboxes.changeOwnPassword(actor.id, { current: form.current_password, next: form.new_password, confirm: form.confirm_password }, req.ip);
  await endSession(req);
  res.redirect(303, '/login?updated=1');
};

/** The Generate button: JSON for the page's script, or the form again with the field filled when scripts are off. */
export const generateOwnPassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const mailbox = actor.kind === 'mailbox' ? await svc.store.findAccountById(actor.id) : null;
  const password = svc.rules.generate(mailbox ? svc.mailboxes.policyContext(mailbox.login) : {});
  res.set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') return res.json({ password });
  res.render(VIEW_ACCOUNT, { mailbox, policy: POLICY_TEXT, values: {}, generated: password });
};

export const logout: RequestHandler = async (req, res) => {
  await endSession(req);
  res.redirect(303, '/login');
};
