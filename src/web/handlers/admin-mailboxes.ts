import type { Account } from '../../core/ports.js';
import type { RequestHandler } from 'express';
import { schemeOf, WEAK_SCHEMES, type Scheme } from '../../core/hash-schemes.js';
import { parseLimits } from '../../core/send-limits.js';
import type { Services } from '../../services.js';
import { NewMailboxForm, ResetPasswordForm, formView, parseForm } from '../forms.js';
import { setFlash, takeFlash } from '../flash.js';
import { domainOf } from '../middleware/domain.js';

const VIEW_NEW = 'admin/mailbox-new';
const VIEW_EDIT = 'admin/mailbox-edit';
const VIEW_DELETE = 'admin/mailbox-delete';

const domainUrl = (domain: string) => `/admin/domains/${encodeURIComponent(domain)}`;

/** The edit page's locals: the mailbox, its domain and its login history (SPEC §10). */
const editLocals = async (svc: Services, res: Parameters<RequestHandler>[1], mailbox: Account) => ({
  domain: domainOf(res),
  mailbox,
  appCount: await svc.appPasswords.countFor(mailbox),
  history: await svc.loginHistory.ofMailbox(res.locals.actor!, domainOf(res), mailbox.login),
  historyDays: svc.config.retention.loginHistoryDays,
  // SPEC §13: which scheme the password is held in (never the hash).
  scheme: schemeOf(mailbox.passwordHash),
  weakScheme: WEAK_SCHEMES.has(schemeOf(mailbox.passwordHash) as Scheme),
  limits: await svc.sendLimits.ofAccount(res.locals.actor!, mailbox),
});

export const showNewMailbox = (svc: Services): RequestHandler => async (req, res) => {
  const domain = domainOf(res);
  res.render(VIEW_NEW, { domain, values: {} });
};

/** With an empty password field the password is generated and shown once. */
export const createMailbox = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  formView(res, VIEW_NEW, { domain }, req.body);
  const form = parseForm(NewMailboxForm, req.body);
  const address = form.address.includes('@') ? form.address : `${form.address}@${domain.name}`;
  const { mailbox, password } = await svc.mailboxes.addMailbox(
    actor,
    { address, name: form.name, ...(form.password ? { password: form.password } : { generate: true as const }) },
    req.ip,
    domain,
  );
  if (mailbox.domainId !== domain.id) return res.redirect(303, domainUrl(mailbox.domainName));
  if (password) {
    res.set('Cache-Control', 'no-store');
    return res.status(201).render(VIEW_EDIT, { ...(await editLocals(svc, res, mailbox)), values: {}, generated: password, created: true });
  }
  setFlash(req, 'success', `Mailbox ${mailbox.login} added.`);
  res.redirect(303, domainUrl(domain.name));
};

export const showEditMailbox = (svc: Services): RequestHandler => async (req, res) => {
  const mailbox = await svc.mailboxes.getMailbox(res.locals.actor!, domainOf(res), req.params.address);
  res.render(VIEW_EDIT, { ...(await editLocals(svc, res, mailbox)), values: {}, flash: takeFlash(req) });
};

/** `Update user`: no current password needed; every session of the mailbox ends. */
export const updateMailboxPassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  const mailbox = await svc.mailboxes.getMailbox(actor, domain, req.params.address);
  formView(res, VIEW_EDIT, await editLocals(svc, res, mailbox), req.body);
  const form = parseForm(ResetPasswordForm, req.body);
  await svc.mailboxes.resetPassword(actor, domain, mailbox.login, { password: form.password }, req.ip);
  setFlash(req, 'success', `Password of ${mailbox.login} updated. Its sessions have ended.`);
  res.redirect(303, domainUrl(domain.name));
};

/** The Generate button: JSON for the page's script, or the edit form with the field filled when scripts are off. */
export const generateMailboxPassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  const mailbox = req.params.address ? await svc.mailboxes.getMailbox(actor, domain, req.params.address) : null;
  const ctx = mailbox ? svc.mailboxes.policyContext(mailbox.login) : { domain: domain.name };
  const password = svc.rules.generate(ctx);
  res.set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') return res.json({ password });
  const values = typeof req.body?.address === 'string' ? { address: req.body.address, name: String(req.body.name ?? '') } : {};
  const locals = mailbox ? await editLocals(svc, res, mailbox) : { domain, mailbox };
  res.render(mailbox ? VIEW_EDIT : VIEW_NEW, { ...locals, values, generated: password });
};

export const setMailboxDisabled = (svc: Services, disabled: boolean): RequestHandler => async (req, res) => {
  const mailbox = await svc.mailboxes.setDisabled(res.locals.actor!, domainOf(res), req.params.address, disabled, req.ip);
  setFlash(req, 'success', disabled ? `Mailbox ${mailbox.login} disabled; its sessions have ended.` : `Mailbox ${mailbox.login} enabled.`);
  res.redirect(303, domainUrl(mailbox.domainName));
};

export const showDeleteMailbox = (svc: Services): RequestHandler => async (req, res) => {
  const mailbox = await svc.mailboxes.getMailbox(res.locals.actor!, domainOf(res), req.params.address);
  res.render(VIEW_DELETE, { mailbox });
};

export const deleteMailbox = (svc: Services): RequestHandler => async (req, res) => {
  const mailbox = await svc.mailboxes.deleteMailbox(res.locals.actor!, domainOf(res), req.params.address, req.ip);
  setFlash(req, 'success', `Mailbox ${mailbox.login} deleted.`);
  res.redirect(303, domainUrl(mailbox.domainName));
};

/** SPEC §15: the mailbox's own sending limits (empty fields: the domain's). */
export const saveMailboxLimits = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const mailbox = await svc.mailboxes.getMailbox(actor, domainOf(res), req.params.address);
  formView(res, VIEW_EDIT, await editLocals(svc, res, mailbox), req.body);
  await svc.sendLimits.setAccount(actor, mailbox, parseLimits(req.body ?? {}), req.ip);
  setFlash(req, 'success', `Sending limits of ${mailbox.login} saved.`);
  res.redirect(303, `/admin/domains/${encodeURIComponent(mailbox.domainName)}/mailboxes/${encodeURIComponent(mailbox.login)}#limits-h`);
};
