import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { setFlash } from '../flash.js';
import { ChangePasswordForm, formView, parseForm } from '../forms.js';
import { actorOf, endSession } from '../middleware/auth.js';
import { linkBase } from './recovery.js';

const VIEW_ACCOUNT = 'user/account';

const mailboxActor = (res: Parameters<RequestHandler>[1]) => actorOf(res, 'mailbox');

/** What every render of the account page shows besides the form: the mailbox and its recent activity. */
const accountLocals = async (svc: Services, res: Parameters<RequestHandler>[1]) => {
  const actor = mailboxActor(res);
  const [mailbox, history, apps, recovery] = await Promise.all([
    svc.mailboxes.getOwnMailbox(actor),
    svc.loginHistory.own(actor),
    svc.appPasswords.list(actor),
    svc.recovery.available ? svc.recovery.state(actor) : null,
  ]);
  const appNames = Object.fromEntries(apps.map((a) => [a.id, a.name]));
  return { mailbox, history, appNames, appCount: apps.length, recovery, historyDays: svc.config.retention.loginHistoryDays, appleProfile: svc.config.clients.imap !== null, servers: svc.autoconfig.servers };
};

export const showAccount = (svc: Services): RequestHandler => async (_req, res) => {
  const notices = await svc.alerts.take(`mailbox:${mailboxActor(res).id}`, res.locals.lang);
  res.render(VIEW_ACCOUNT, { ...(await accountLocals(svc, res)), values: {}, notices });
};

/** On success every session of the mailbox ends, this one too, and the browser lands on /login. */
export const updatePassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = mailboxActor(res);
  formView(res, VIEW_ACCOUNT, await accountLocals(svc, res), req.body);
  const form = parseForm(ChangePasswordForm, req.body);
  await svc.mailboxes.changeOwnPassword(actor, { current: form.current_password, next: form.new_password, confirm: form.confirm_password }, req.ip, req.get('user-agent'));
  await endSession(req);
  res.redirect(303, '/login?updated=1');
};

/** The Generate button: JSON for the page's script, or the form again with the field filled when scripts are off. */
export const generateOwnPassword = (svc: Services): RequestHandler => async (req, res) => {
  const mailbox = await svc.mailboxes.getOwnMailbox(mailboxActor(res));
  const password = svc.rules.generate(svc.mailboxes.policyContext(mailbox.login));
  res.set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') return res.json({ password });
  res.render(VIEW_ACCOUNT, { ...(await accountLocals(svc, res)), values: {}, generated: password });
};


/** SPEC §16, `Save recovery address`: a new address gets a confirmation link; an empty one removes it. */
export const saveRecoveryAddress = (svc: Services): RequestHandler => async (req, res) => {
  formView(res, VIEW_ACCOUNT, await accountLocals(svc, res), req.body);
  const typed = typeof req.body?.recovery_address === 'string' ? req.body.recovery_address.trim().toLowerCase() : '';
  const done = await svc.recovery.saveAddress(mailboxActor(res), { address: typed, current: req.body?.recovery_password }, linkBase(svc, req), req.ip ?? null, req.get('user-agent'), res.locals.lang);
  setFlash(req, 'success', done === 'removed' ? 'The recovery address was removed.' : `A link was sent to ${typed}: open it within 24 hours to make it your recovery address.`);
  res.redirect(303, '/account#recovery');
};
