import type { RequestHandler } from 'express';
import type { Account } from '../../core/ports.js';
import { parseLimits } from '../../core/send-limits.js';
import type { Services } from '../../services.js';
import { NameForm, formView, parseForm } from '../forms.js';
import { setFlash, takeFlash } from '../flash.js';
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

const credentialLocals = async (svc: Services, res: Parameters<RequestHandler>[1], credential: Account) => ({
  domain: domainOf(res),
  credential,
  history: await svc.loginHistory.ofCredential(res.locals.actor!, domainOf(res), credential.guid),
  historyDays: svc.config.retention.loginHistoryDays,
  limits: await svc.sendLimits.ofAccount(res.locals.actor!, credential),
});

/** A credential with its login history (SPEC §10) and sending limits (SPEC §15). */
export const showCredential = (svc: Services): RequestHandler => async (req, res) => {
  const credential = await svc.credentials.getCredential(res.locals.actor!, domainOf(res), req.params.guid);
  res.render(VIEW_SHOW, { ...(await credentialLocals(svc, res, credential)), flash: takeFlash(req), values: {} });
};

/** SPEC §15: the credential's own sending limits (empty fields: the domain's). */
export const saveCredentialLimits = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const credential = await svc.credentials.getCredential(actor, domainOf(res), req.params.guid);
  formView(res, VIEW_SHOW, await credentialLocals(svc, res, credential), req.body);
  await svc.sendLimits.setAccount(actor, credential, parseLimits(req.body ?? {}), req.ip);
  setFlash(req, 'success', `Sending limits of ${credential.name} saved.`);
  res.redirect(303, `${domainUrl(credential.domainName)}/credentials/${credential.guid}#limits-h`);
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
