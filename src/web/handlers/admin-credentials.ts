import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { NameForm, formView, parseForm } from '../forms.js';
import { setFlash } from '../flash.js';
import { domainOf } from '../middleware/domain.js';

const VIEW_NEW = 'admin/credential-new';
const VIEW_SECRET = 'admin/credential-secret';
const VIEW_RESET = 'admin/credential-reset';
const VIEW_DELETE = 'admin/credential-delete';
const VIEW_SHOW = 'admin/credential';

const domainUrl = (domain: string) => `/admin/domains/${encodeURIComponent(domain)}`;

export const showNewCredential = (svc: Services): RequestHandler => async (req, res) => {
  res.render(VIEW_NEW, { domain: domainOf(res), values: {} });
};

/** The username and password are shown once, on this response only (never stored in plaintext). */
export const createCredential = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  formView(res, VIEW_NEW, { domain }, req.body);
  const form = parseForm(NameForm, req.body);
  const { credential, password } = await svc.credentials.createCredential(actor, domain, form.name, req.ip);
  res.set('Cache-Control', 'no-store');
  res.status(201).render(VIEW_SECRET, { domain, credential, password, smtp: svc.autoconfig.servers.smtp, created: true });
};

/** A credential with its login history (SPEC §10). */
export const showCredential = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const credential = await svc.credentials.getCredential(actor, domainOf(res), req.params.guid);
  const history = await svc.loginHistory.ofCredential(actor, domainOf(res), credential.guid);
  res.render(VIEW_SHOW, { domain: domainOf(res), credential, history, historyDays: svc.config.retention.loginHistoryDays });
};

export const showResetCredential = (svc: Services): RequestHandler => async (req, res) => {
  const credential = await svc.credentials.getCredential(res.locals.actor!, domainOf(res), req.params.guid);
  res.render(VIEW_RESET, { credential });
};

export const resetCredential = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  const { credential, password } = await svc.credentials.resetCredential(actor, domain, req.params.guid, req.ip);
  res.set('Cache-Control', 'no-store');
  res.render(VIEW_SECRET, { domain, credential, password, smtp: svc.autoconfig.servers.smtp, created: false });
};

export const showDeleteCredential = (svc: Services): RequestHandler => async (req, res) => {
  const credential = await svc.credentials.getCredential(res.locals.actor!, domainOf(res), req.params.guid);
  res.render(VIEW_DELETE, { credential });
};

export const deleteCredential = (svc: Services): RequestHandler => async (req, res) => {
  const credential = await svc.credentials.deleteCredential(res.locals.actor!, domainOf(res), req.params.guid, req.ip);
  setFlash(req, 'success', `Credential ${credential.name} (${credential.login}) deleted.`);
  res.redirect(303, domainUrl(credential.domainName));
};
