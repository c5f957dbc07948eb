import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { NewAdminForm, formView, parseForm } from '../forms.js';
import { setFlash, takeFlash } from '../flash.js';

const VIEW_LIST = 'admin/admins';

const locals = async (svc: Services, actor: NonNullable<Express.Locals['actor']>) => ({
  admins: await svc.admins.listAdmins(actor),
  domains: await svc.domains.listDomains(actor),
});

export const listAdmins = (svc: Services): RequestHandler => async (req, res) => {
  res.render(VIEW_LIST, { ...(await locals(svc, res.locals.actor!)), values: {}, flash: takeFlash(req) });
};

export const createAdmin = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  formView(res, VIEW_LIST, await locals(svc, actor), req.body);
  const form = parseForm(NewAdminForm, req.body);
  const domains = form.domains === undefined ? [] : Array.isArray(form.domains) ? form.domains : [form.domains];
  const { admin } = await svc.admins.addAdmin(actor, { username: form.username, password: form.password, isSuper: !!form.super, domains }, req.ip);
  setFlash(req, 'success', `Admin ${admin.username} added.`);
  res.redirect(303, '/admin/admins');
};
