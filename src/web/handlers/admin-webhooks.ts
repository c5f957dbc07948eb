import type { RequestHandler } from 'express';
import { WEBHOOK_EVENTS } from '../../core/webhook-events.js';
import type { Services } from '../../services.js';
import { setFlash, takeFlash } from '../flash.js';
import { formView, parseForm, WebhookForm } from '../forms.js';

// SPEC §19: /admin/webhooks, for super admins (every domain) and domain admins (their domains').

const VIEW_LIST = 'admin/webhooks';
const VIEW_CREATED = 'admin/webhook-created';
const VIEW_ONE = 'admin/webhook';

const listLocals = async (svc: Services, actor: NonNullable<Parameters<RequestHandler>[1]['locals']['actor']>) => ({
  webhooks: await svc.webhooks.list(actor),
  domains: await svc.domains.listDomains(actor),
  events: WEBHOOK_EVENTS,
});

export const listWebhooks = (svc: Services): RequestHandler => async (req, res) => {
  res.render(VIEW_LIST, { ...(await listLocals(svc, res.locals.actor!)), values: {}, flash: takeFlash(req) });
};

/** The signing secret is shown once, on this response only; the database keeps it sealed. */
export const createWebhook = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  formView(res, VIEW_LIST, await listLocals(svc, actor), req.body);
  const form = parseForm(WebhookForm, req.body);
  const { webhook, secret } = await svc.webhooks.add(actor, { url: form.url, events: form.events ?? [], domain: form.domain }, req.ip);
  res.set('Cache-Control', 'no-store');
  res.status(201).render(VIEW_CREATED, { webhook, secret });
};

export const showWebhook = (svc: Services): RequestHandler => async (req, res) => {
  const webhook = await svc.webhooks.get(res.locals.actor!, String(req.params.webhook));
  res.render(VIEW_ONE, { webhook, now: svc.clock.now(), flash: takeFlash(req) });
};

export const sendTestEvent = (svc: Services): RequestHandler => async (req, res) => {
  const id = String(req.params.webhook);
  await svc.webhooks.sendTest(res.locals.actor!, id, req.ip);
  setFlash(req, 'success', 'Test event queued.');
  res.redirect(303, `/admin/webhooks/${encodeURIComponent(id)}`);
};

export const resumeWebhook = (svc: Services): RequestHandler => async (req, res) => {
  const id = String(req.params.webhook);
  await svc.webhooks.resume(res.locals.actor!, id, req.ip);
  setFlash(req, 'success', 'Webhook resumed.');
  res.redirect(303, `/admin/webhooks/${encodeURIComponent(id)}`);
};

export const deleteWebhook = (svc: Services): RequestHandler => async (req, res) => {
  await svc.webhooks.remove(res.locals.actor!, String(req.params.webhook), req.ip);
  setFlash(req, 'success', 'Webhook deleted.');
  res.redirect(303, '/admin/webhooks');
};
