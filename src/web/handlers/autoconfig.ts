import { createHash } from 'node:crypto';
import express, { Router, type RequestHandler } from 'express';
import { NotFoundError } from '../../core/errors.js';
import type { Account } from '../../core/ports.js';
import type { Services } from '../../services.js';
import { BODY_LIMIT } from '../limits.js';
import { actorOf } from '../middleware/auth.js';

const VIEW_THUNDERBIRD = 'autoconfig/thunderbird';
const VIEW_AUTODISCOVER = 'autoconfig/autodiscover';
const VIEW_MOBILECONFIG = 'autoconfig/mobileconfig';

/** The domain a request is about: `?emailaddress=`, else the host it was sent to (`autoconfig.example.com`). */
const askedFor = (req: Parameters<RequestHandler>[0]) => {
  const address = req.query.emailaddress;
  if (typeof address === 'string' && address !== '') return address;
  return (req.hostname ?? '').replace(/^autoconfig\./, '');
};

/** Thunderbird's autoconfig (config-v1.1.xml): the same answer for every address of a verified domain. */
export const thunderbird = (svc: Services): RequestHandler => async (req, res) => {
  const s = await svc.autoconfig.settingsFor(askedFor(req));
  res.set('Cache-Control', 'public, max-age=3600');
  res.type('application/xml').render(VIEW_THUNDERBIRD, { s });
};

const EMAIL = /<EMailAddress>\s*([^<\s]{3,320})\s*<\/EMailAddress>/i;

/** Outlook's POX Autodiscover: the request names the address, the answer echoes it as the login. */
export const autodiscoverXml = (svc: Services): RequestHandler => async (req, res) => {
  const address = typeof req.body === 'string' ? EMAIL.exec(req.body)?.[1] : undefined;
  if (!address) return void res.status(400).type('text/plain').send('An Autodiscover request with an EMailAddress is expected.\n');
  const s = await svc.autoconfig.settingsFor(address);
  res.set('Cache-Control', 'no-store');
  res.type('application/xml').render(VIEW_AUTODISCOVER, { s, address: address.toLowerCase() });
};

/**
 * Newer Outlook asks `autodiscover.json/v1.0/<address>?Protocol=AutodiscoverV1` first and expects
 * the URL of the POX service; any other protocol is one mailpass does not offer (Exchange's answer).
 */
export const autodiscoverJson = (svc: Services): RequestHandler => async (req, res) => {
  const address = req.params.address ?? req.query.Email;
  const s = await svc.autoconfig.settingsFor(address);
  if (String(req.query.Protocol ?? '').toLowerCase() !== 'autodiscoverv1') {
    return void res.status(400).json({ ErrorCode: 'InvalidProtocol', ErrorMessage: "The given protocol value is invalid. Supported values are 'AutodiscoverV1'." });
  }
  // Never the request's Host header (issue 29): the name the domain publishes for Autodiscover
  // (docs/dns.md), over https as Outlook requires, or PUBLIC_URL when that is where the panel is.
  const base = svc.config.publicUrl ?? `https://autodiscover.${s.domain}`;
  res.json({ Protocol: 'AutodiscoverV1', Url: `${base}/autodiscover/autodiscover.xml` });
};

/** A stable UUID (RFC 4122 layout) from a name: a profile installed again replaces the one before. */
const uuidOf = (name: string) => {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`.toUpperCase();
};

/** The Apple profile the owner downloads from /account (unsigned, no password: the device asks for it). */
export const mobileconfig = (svc: Services): RequestHandler => async (_req, res) => {
  const mailbox = await svc.mailboxes.getOwnMailbox(actorOf(res, 'mailbox'));
  sendProfile(res, mailbox, await imapSettings(svc, mailbox.login), null);
};

/** What a profile names; only with IMAP_HOST, since the profile sets up an IMAP account. */
const imapSettings = async (svc: Services, address: string) => {
  const s = await svc.autoconfig.settingsFor(address);
  if (!s.imap) throw new NotFoundError('domain-not-found', 'No IMAP server is configured (IMAP_HOST)');
  return { ...s, imap: s.imap };
};

/**
 * POST /account/mobileconfig: the same profile with a new app password in it (SPEC §11, §14), for a
 * device that cannot ask for the password well (or for a mailbox whose main password no longer
 * logs in to mail, with a second factor on). Made for this download, shown to nobody, revoked like
 * any other app password on the security page.
 */
export const mobileconfigWithAppPassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = actorOf(res, 'mailbox');
  const mailbox = await svc.mailboxes.getOwnMailbox(actor);
  // Read before an app password is made, so that none is made for nothing.
  const s = await imapSettings(svc, mailbox.login);
  const { password } = await svc.appPasswords.create(actor, res.locals.t('autoconfig.app-password-name', { date: new Date(svc.clock.now() * 1000).toISOString().slice(0, 10) }), req.ip);
  sendProfile(res, mailbox, s, password);
};

function sendProfile(res: Parameters<RequestHandler>[1], mailbox: Account, s: Awaited<ReturnType<typeof imapSettings>>, appPassword: string | null) {
  const identifier = `mailpass.${s.domain.split('.').reverse().join('.')}.${mailbox.localPart}`;
  res.set('Cache-Control', 'no-store');
  res.set('Content-Disposition', `attachment; filename="${mailbox.login.replace(/[^A-Za-z0-9@._-]/g, '_')}.mobileconfig"`);
  res.type('application/x-apple-aspen-config').render(VIEW_MOBILECONFIG, {
    s,
    address: mailbox.login,
    name: mailbox.name,
    identifier,
    profileUuid: uuidOf(`profile:${mailbox.login}`),
    mailUuid: uuidOf(`mail:${mailbox.login}`),
    appPassword,
  });
}

/**
 * SPEC §14's public autoconfiguration URLs, before sessions and CSRF (mail clients have neither).
 * Failures answer 404 for an unknown or unverified domain and nothing else.
 */
export function autoconfigRouter(svc: Services): Router {
  const r = Router();
  r.get('/mail/config-v1.1.xml', thunderbird(svc));
  r.get('/.well-known/autoconfig/mail/config-v1.1.xml', thunderbird(svc));
  r.post('/autodiscover/autodiscover.xml', express.text({ type: () => true, limit: BODY_LIMIT }), autodiscoverXml(svc));
  r.post('/Autodiscover/Autodiscover.xml', express.text({ type: () => true, limit: BODY_LIMIT }), autodiscoverXml(svc));
  r.get('/autodiscover/autodiscover.json/v1.0/:address', autodiscoverJson(svc));
  r.get('/autodiscover/autodiscover.json', autodiscoverJson(svc));
  r.use((err: unknown, _req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1], next: (err?: unknown) => void) => {
    if (err instanceof NotFoundError) return void res.status(404).type('text/plain').send('No mail settings for this domain.\n');
    next(err);
  });
  return r;
}
