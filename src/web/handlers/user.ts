import type { RequestHandler } from 'express';
import { POLICY_TEXT } from '../../core/passwords.js';
import type { Services } from '../../services.js';
import { ChangePasswordForm, formView, parseForm } from '../forms.js';
import { actorOf, endSession } from '../middleware/auth.js';

const VIEW_ACCOUNT = 'user/account';

const mailboxActor = (res: Parameters<RequestHandler>[1]) => actorOf(res, 'mailbox');

/** What every render of the account page shows besides the form: the mailbox and its recent activity. */
const accountLocals = async (svc: Services, res: Parameters<RequestHandler>[1]) => {
  const actor = mailboxActor(res);
  const [mailbox, history, apps] = await Promise.all([svc.mailboxes.getOwnMailbox(actor), svc.loginHistory.own(actor), svc.appPasswords.list(actor)]);
  const appNames = Object.fromEntries(apps.map((a) => [a.id, a.name]));
  return { mailbox, history, appNames, appCount: apps.length, historyDays: svc.config.retention.loginHistoryDays, policy: POLICY_TEXT, appleProfile: svc.config.clients.imap !== null, servers: svc.autoconfig.servers };
};

export const showAccount = (svc: Services): RequestHandler => async (_req, res) => {
  const notices = await svc.alerts.take(`mailbox:${mailboxActor(res).id}`);
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

