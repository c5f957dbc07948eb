import type { RequestHandler } from 'express';
import { WEAK_SCHEMES, type Scheme } from '../../core/hash-schemes.js';
import type { Services } from '../../services.js';
import { NewDomainForm, SearchQuery, formView, parseForm } from '../forms.js';
import { takeFlash, setFlash } from '../flash.js';
import { actorOf } from '../middleware/auth.js';
import { domainOf } from '../middleware/domain.js';

const VIEW_LIST = 'admin/domains';
const VIEW_SHOW = 'admin/domain';

/** SPEC §9: a super admin is told when accepted mail goes nowhere but the spool. */
const relayNotice = (svc: Services, res: Parameters<RequestHandler>[1]) => ({
  spoolOnly: svc.config.relay === null && res.locals.actor?.kind === 'admin' && res.locals.actor.isSuper,
});

export const listDomains = (svc: Services): RequestHandler => async (req, res) => {
  const domains = await svc.domains.listDomains(res.locals.actor!);
  // The `Select domain` control is a GET form: without scripts it lands here with ?domain=.
  if (typeof req.query.domain === 'string' && req.query.domain !== '') {
    const domain = await svc.domains.requireDomain(res.locals.actor!, req.query.domain);
    return res.redirect(303, `/admin/domains/${encodeURIComponent(domain.name)}`);
  }
  const notices = await svc.alerts.take(`admin:${actorOf(res, 'admin').id}`);
  res.render(VIEW_LIST, { domains, values: {}, flash: takeFlash(req), notices, ...relayNotice(svc, res) });
};

export const createDomain = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  formView(res, VIEW_LIST, { domains: await svc.domains.listDomains(actor), ...relayNotice(svc, res) }, req.body);
  const form = parseForm(NewDomainForm, req.body);
  const domain = await svc.domains.addDomain(actor, form.domain, { verified: !form.unverified, ip: req.ip });
  setFlash(req, 'success', `Domain ${domain.name} added.`);
  res.redirect(303, `/admin/domains/${encodeURIComponent(domain.name)}`);
};

export const showDomain = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  const query = parseForm(SearchQuery, req.query);
  const mailboxes = await svc.mailboxes.listMailboxes(actor, domain, { search: query.q, page: query.page });
  const credentials = await svc.credentials.listCredentials(actor, domain);
  res.render(VIEW_SHOW, {
    domain,
    mailboxes,
    credentials,
    imported: (await svc.importedSchemes(domain)).map((s) => ({ ...s, weak: WEAK_SCHEMES.has(s.scheme as Scheme) })),
    smtp: { host: svc.config.smtpHostname, port: svc.config.smtpPort, smtpsPort: svc.config.smtpsPort },
    flash: takeFlash(req),
  });
};
