import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { TokenForm, formView, parseForm } from '../forms.js';
import { setFlash, takeFlash } from '../flash.js';

const VIEW_LIST = 'admin/tokens';
const VIEW_CREATED = 'admin/token-created';

/** The list, and the domains a new token may be limited to (the admin's own). */
const listLocals = async (svc: Services, actor: NonNullable<Parameters<RequestHandler>[1]['locals']['actor']>) => ({
  tokens: await svc.tokens.listTokens(actor),
  domains: await svc.domains.listDomains(actor),
  now: svc.clock.now(),
});

export const listTokens = (svc: Services): RequestHandler => async (req, res) => {
  res.render(VIEW_LIST, { ...(await listLocals(svc, res.locals.actor!)), values: {}, flash: takeFlash(req) });
};

/** The token is shown once, on this response only; the database keeps its SHA-256. */
export const createToken = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  formView(res, VIEW_LIST, await listLocals(svc, actor), req.body);
  const form = parseForm(TokenForm, req.body);
  const { token, plaintext } = await svc.tokens.createToken(
    actor,
    { name: form.name, readOnly: form.read_only === '1', domains: form.domains, expiresDays: form.expires_days, allowIps: form.allow_ips },
    req.ip,
  );
  res.set('Cache-Control', 'no-store');
  res.status(201).render(VIEW_CREATED, { token, plaintext, now: svc.clock.now() });
};

export const revokeToken = (svc: Services): RequestHandler => async (req, res) => {
  const token = await svc.tokens.revokeToken(res.locals.actor!, req.params.id, req.ip);
  setFlash(req, 'success', `Token ${token.name} revoked.`);
  res.redirect(303, '/admin/tokens');
};
