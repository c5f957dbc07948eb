import type { RequestHandler } from 'express';
import { ConflictError, ValidationError } from '../../core/errors.js';
import { WEAK_SCHEMES, type Scheme } from '../../core/hash-schemes.js';
import { parseLimits } from '../../core/send-limits.js';
import type { Services } from '../../services.js';
import { NewDomainForm, SearchQuery, formView, parseForm } from '../forms.js';
import { takeFlash, setFlash } from '../flash.js';
import { actorOf } from '../middleware/auth.js';
import { domainOf } from '../middleware/domain.js';

const VIEW_LIST = 'admin/domains';
const VIEW_SHOW = 'admin/domain';
const VIEW_DNS = 'admin/dns';

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
  const notices = await svc.alerts.take(`admin:${actorOf(res, 'admin').id}`, res.locals.lang);
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

/** What the domain page shows (also when its limits form is refused and shown again). */
const domainLocals = async (svc: Services, req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) => {
  const actor = res.locals.actor!;
  const domain = domainOf(res);
  const query = parseForm(SearchQuery, req.query);
  const mailboxes = await svc.mailboxes.listMailboxes(actor, domain, { search: query.q, page: query.page });
  const credentials = await svc.credentials.listCredentials(actor, domain);
  return {
    domain,
    mailboxes,
    credentials,
    dkim: await svc.dkim.list(actor, domain),
    imported: (await svc.importedSchemes(domain)).map((s) => ({ ...s, weak: WEAK_SCHEMES.has(s.scheme as Scheme) })),
    smtp: svc.autoconfig.servers.smtp,
    // SPEC §15: what each login of this page sent against its limit, and who reached one today.
    limits: await svc.sendLimits.ofDomain(actor, domain),
    sentBy: await svc.sendLimits.sentByAccount(actor, domain, [...mailboxes.items, ...credentials]),
    reached: await svc.sendLimits.reachedToday(actor, domain),
  };
};

export const showDomain = (svc: Services): RequestHandler => async (req, res) => {
  res.render(VIEW_SHOW, { ...(await domainLocals(svc, req, res)), flash: takeFlash(req), values: {} });
};

/** SPEC §15: the domain's own sending limits (empty fields: the installation's). */
export const saveDomainLimits = (svc: Services): RequestHandler => async (req, res) => {
  const domain = domainOf(res);
  formView(res, VIEW_SHOW, await domainLocals(svc, req, res), req.body);
  await svc.sendLimits.setDomain(res.locals.actor!, domain, parseLimits(req.body ?? {}), req.ip);
  setFlash(req, 'success', `Sending limits of ${domain.name} saved.`);
  res.redirect(303, `/admin/domains/${encodeURIComponent(domain.name)}#limits-h`);
};

/** SPEC §14: a new pair of DKIM keys (a rotation when there are keys already). */
export const addDkim = (svc: Services): RequestHandler => async (req, res) => {
  const actor = actorOf(res, 'admin');
  const domain = domainOf(res);
  const selector = typeof req.body?.selector === 'string' && req.body.selector.trim() !== '' ? req.body.selector : undefined;
  try {
    const added = await svc.dkim.add(actor, domain, selector, req.ip);
    const [first, second, ...more] = added.map((k) => k.selector);
    setFlash(req, 'success', second !== undefined && more.length === 0 ? `DKIM keys ${first} and ${second} added: publish their TXT records below.` : `DKIM keys ${added.map((k) => k.selector).join(', ')} added: publish their TXT records below.`);
  } catch (err) {
    if (!(err instanceof ValidationError || err instanceof ConflictError)) throw err;
    setFlash(req, 'error', err instanceof ConflictError ? err.message : 'The selector must be letters, digits and dashes (a DNS label), at most 42.');
  }
  res.redirect(303, `/admin/domains/${encodeURIComponent(domain.name)}#dkim`);
};

export const removeDkim = (svc: Services): RequestHandler => async (req, res) => {
  const domain = domainOf(res);
  await svc.dkim.remove(actorOf(res, 'admin'), domain, req.params.selector, req.ip);
  setFlash(req, 'success', `DKIM key ${String(req.params.selector)} removed; its TXT record can go.`);
  res.redirect(303, `/admin/domains/${encodeURIComponent(domain.name)}#dkim`);
};

/** SPEC §14: the records the domain needs, with the last check's results. */
export const showDns = (svc: Services): RequestHandler => async (req, res) => {
  const page = await svc.dnsRecords.page(actorOf(res, 'admin'), domainOf(res), req.hostname);
  res.render(VIEW_DNS, { domain: domainOf(res), page, flash: takeFlash(req) });
};

/** `Check DNS`: asks DNS now (3 s at most), keeps the result, and shows the page again. */
export const checkDns = (svc: Services): RequestHandler => async (req, res) => {
  const domain = domainOf(res);
  const { problems } = await svc.dnsRecords.check(actorOf(res, 'admin'), domain, req.hostname);
  setFlash(req, problems === 0 ? 'success' : 'error', problems === 0 ? 'DNS checked: every record is right.' : problems === 1 ? 'DNS checked: 1 record needs attention.' : `DNS checked: ${problems} records need attention.`);
  res.redirect(303, `/admin/domains/${encodeURIComponent(domain.name)}/dns`);
};
