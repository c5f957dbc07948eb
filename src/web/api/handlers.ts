import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { Actor } from '../../core/actors.js';
import { ValidationError } from '../../core/errors.js';
import type { LoginHistoryRow } from '../../core/ports.js';
import { parseLimits, type LimitsView } from '../../core/send-limits.js';
import type { Services } from '../../services.js';
import { parseForm } from '../forms.js';
import { BadRequestError } from './errors.js';
import { credentialJson, domainJson, mailboxJson } from './serialize.js';

const NameBody = z.object({ name: z.string({ error: 'Must be a string.' }).max(100, 'Must be at most 100 characters.') });
const PasswordBody = z.object({ password: z.string({ error: 'Must be a string.' }).max(1024, 'Must be at most 1024 characters.').optional() });
const ListQuery = z.object({ search: z.string().max(320).optional(), page: z.string().max(10).optional() });

const actorOf = (res: Parameters<RequestHandler>[1]): Actor => res.locals.actor!;

export const listDomains = (svc: Services): RequestHandler => async (_req, res) => {
  const domains = await svc.domains.listDomains(actorOf(res));
  res.json({ success: true, data: { domains: domains.map(domainJson) } });
};

export const listCredentials = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const credentials = await svc.credentials.listCredentials(actorOf(res), domain);
  res.json({ success: true, data: { credentials: credentials.map(credentialJson) } });
};

/**
 * `synced` is true when the password is committed: SMTP logins read the password version from
 * the same database on every attempt (cache hits included), so no listener accepts the old one.
 */
const secretResponse = async (svc: Services, message: string, credential: Parameters<typeof credentialJson>[0], password: string) => ({
  success: true,
  message,
  data: {
    credential: credentialJson(credential),
    password,
    password_strength: await svc.rules.describe(password, { localPart: credential.localPart, domain: credential.domainName }),
    synced: true,
  },
});

export const createCredential = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const body = parseForm(NameBody, req.body);
  const { credential, password } = await svc.credentials.createCredential(actorOf(res), domain, body.name, req.ip);
  res.set('Cache-Control', 'no-store');
  res.status(201).json(await secretResponse(svc, 'Credential created successfully.', credential, password));
};

export const resetCredential = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const { credential, password } = await svc.credentials.resetCredential(actorOf(res), domain, req.params.credential, req.ip);
  res.set('Cache-Control', 'no-store');
  res.json(await secretResponse(svc, 'Password reset successfully.', credential, password));
};

export const deleteCredential = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const credential = await svc.credentials.deleteCredential(actorOf(res), domain, req.params.credential, req.ip);
  res.json({ success: true, message: 'Credential deleted successfully.', data: { credential: credentialJson(credential) } });
};

export const listMailboxes = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const query = parseForm(ListQuery, req.query);
  const page = await svc.mailboxes.listMailboxes(actorOf(res), domain, { search: query.search, page: query.page });
  res.json({ success: true, data: { mailboxes: page.items.map(mailboxJson), total: page.total, page: page.page, page_size: page.pageSize } });
};

/** Sets the given password, or generates one when `password` is omitted (returned only then). */
export const setMailboxPassword = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const body = parseForm(PasswordBody, req.body ?? {});
  const input = body.password === undefined ? { generate: true as const } : { password: body.password };
  const { mailbox, password, generated } = await svc.mailboxes.resetPassword(actorOf(res), domain, req.params.address, input, req.ip);
  const updated = await svc.mailboxes.getMailbox(actorOf(res), domain, mailbox.login);
  res.set('Cache-Control', 'no-store');
  res.json({
    success: true,
    message: 'Password updated successfully.',
    data: {
      mailbox: mailboxJson(updated),
      ...(generated ? { password } : {}),
      password_strength: await svc.rules.describe(password, svc.mailboxes.policyContext(updated.login)),
      synced: true,
    },
  });
};

/** SPEC §10's shape of one history row. */
const loginJson = (h: LoginHistoryRow) => ({ protocol: h.protocol, mechanism: h.mechanism, result: h.result, ip: h.ip || null, first_at: h.firstAt, last_at: h.lastAt, count: h.count });

export const mailboxLogins = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const rows = await svc.loginHistory.ofMailbox(actorOf(res), domain, req.params.address);
  res.json({ success: true, data: { logins: rows.map(loginJson) } });
};

export const credentialLogins = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  const rows = await svc.loginHistory.ofCredential(actorOf(res), domain, req.params.credential);
  res.json({ success: true, data: { logins: rows.map(loginJson) } });
};

/** SPEC §15's JSON: null where a level inherits, the values that apply, and what was sent. */
const limitsJson = (view: LimitsView) => ({
  limits: { per_hour: view.limits.perHour, per_day: view.limits.perDay, max_recipients: view.limits.maxRecipients },
  effective: { per_hour: view.effective.perHour, per_day: view.effective.perDay, max_recipients: view.effective.maxRecipients },
  sent: { last_hour: view.sent.lastHour, last_day: view.sent.lastDay },
});
/** SPEC §15: a bad value is a 400 that names the field. */
const limitsBody = (body: unknown) => {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError({ body: ['Must be a JSON object with per_hour, per_day and max_recipients'] });
  try {
    return parseLimits(body as Record<string, unknown>, { json: true });
  } catch (err) {
    if (err instanceof ValidationError) throw new BadRequestError(err.fields);
    throw err;
  }
};

export const domainLimits = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  res.json({ success: true, data: limitsJson(await svc.sendLimits.ofDomain(actorOf(res), domain)) });
};

export const setDomainLimits = (svc: Services): RequestHandler => async (req, res) => {
  const domain = await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain);
  await svc.sendLimits.setDomain(actorOf(res), domain, limitsBody(req.body), req.ip);
  res.json({ success: true, message: 'Sending limits saved.', data: limitsJson(await svc.sendLimits.ofDomain(actorOf(res), domain)) });
};

const mailboxOf = async (svc: Services, req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) =>
  svc.mailboxes.getMailbox(actorOf(res), await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain), req.params.address);
const credentialOf = async (svc: Services, req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]) =>
  svc.credentials.getCredential(actorOf(res), await svc.domains.requireVerifiedDomain(actorOf(res), req.params.domain), req.params.credential);

/** GET and PUT of an account's limits, `find` resolving which account (and refusing what the token may not see). */
const accountLimits = (find: typeof mailboxOf) => ({
  show: (svc: Services): RequestHandler => async (req, res) => {
    res.json({ success: true, data: limitsJson(await svc.sendLimits.ofAccount(actorOf(res), await find(svc, req, res))) });
  },
  set: (svc: Services): RequestHandler => async (req, res) => {
    const account = await find(svc, req, res);
    await svc.sendLimits.setAccount(actorOf(res), account, limitsBody(req.body), req.ip);
    res.json({ success: true, message: 'Sending limits saved.', data: limitsJson(await svc.sendLimits.ofAccount(actorOf(res), account)) });
  },
});

export const { show: mailboxLimits, set: setMailboxLimits } = accountLimits(mailboxOf);
export const { show: credentialLimits, set: setCredentialLimits } = accountLimits(credentialOf);
