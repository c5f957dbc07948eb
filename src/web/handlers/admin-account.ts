import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { ChangePasswordForm, formView, parseForm } from '../forms.js';
import { actorOf, endSession } from '../middleware/auth.js';

const VIEW_ACCOUNT = 'admin/account';

const adminActor = (res: Parameters<RequestHandler>[1]) => actorOf(res, 'admin');

const locals = async (svc: Services, res: Parameters<RequestHandler>[1]) => {
  const actor = adminActor(res);
  return { admin: await svc.admins.getOwnAdmin(actor), mustChange: res.locals.mustChangePassword === true };
};

/** SPEC §8: an admin's own password, with the rules of a mailbox owner's. */
export const showAdminAccount = (svc: Services): RequestHandler => async (_req, res) => {
  res.render(VIEW_ACCOUNT, { ...(await locals(svc, res)), values: {} });
};

/** On success every session of the admin ends, this one too, and its API tokens are revoked. */
export const updateAdminPassword = (svc: Services): RequestHandler => async (req, res) => {
  formView(res, VIEW_ACCOUNT, await locals(svc, res), req.body);
  const form = parseForm(ChangePasswordForm, req.body);
  await svc.admins.changeOwnPassword(adminActor(res), { current: form.current_password, next: form.new_password, confirm: form.confirm_password }, req.ip);
  await endSession(req);
  res.redirect(303, '/admin/login?updated=1');
};

export const generateAdminPassword = (svc: Services): RequestHandler => async (req, res) => {
  const actor = adminActor(res);
  const password = svc.rules.generate({ words: [actor.username] });
  res.set('Cache-Control', 'no-store');
  if (req.accepts(['html', 'json']) === 'json') return res.json({ password });
  res.render(VIEW_ACCOUNT, { ...(await locals(svc, res)), values: {}, generated: password });
};
