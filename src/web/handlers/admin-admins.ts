import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { EditAdminForm, NewAdminForm, formView, parseForm } from '../forms.js';
import { setFlash, takeFlash } from '../flash.js';

const VIEW_LIST = 'admin/admins';
const VIEW_EDIT = 'admin/admin-edit';

type Actor = NonNullable<Express.Locals['actor']>;
const listOf = (d: string | string[] | undefined) => (d === undefined ? [] : Array.isArray(d) ? d : [d]);
const adminUrl = (username: string) => `/admin/admins/${encodeURIComponent(username)}`;

const locals = async (svc: Services, actor: Actor) => ({
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
  const { admin } = await svc.admins.addAdmin(actor, { username: form.username, password: form.password, isSuper: !!form.super, domains: listOf(form.domains) }, req.ip);
  setFlash(req, 'success', `Admin ${admin.username} added.`);
  res.redirect(303, '/admin/admins');
};

const editLocals = async (svc: Services, actor: Actor, username: unknown) => {
  const admin = await svc.admins.getAdmin(actor, username);
  return { admin, domains: await svc.domains.listDomains(actor), self: actor.kind === 'admin' && actor.id === admin.id };
};

export const showEditAdmin = (svc: Services): RequestHandler => async (req, res) => {
  res.render(VIEW_EDIT, { ...(await editLocals(svc, res.locals.actor!, req.params.username)), values: {}, flash: takeFlash(req) });
};

export const updateAdmin = (svc: Services): RequestHandler => async (req, res) => {
  const actor = res.locals.actor!;
  formView(res, VIEW_EDIT, await editLocals(svc, actor, req.params.username), req.body);
  const form = parseForm(EditAdminForm, req.body);
  const admin = await svc.admins.updateAdmin(actor, req.params.username, { isSuper: !!form.super, domains: listOf(form.domains) }, req.ip);
  setFlash(req, 'success', `Admin ${admin.username} saved.`);
  res.redirect(303, adminUrl(admin.username));
};

export const setAdminDisabled = (svc: Services, disabled: boolean): RequestHandler => async (req, res) => {
  const admin = await svc.admins.setDisabled(res.locals.actor!, req.params.username, disabled, req.ip);
  setFlash(req, 'success', disabled ? `Admin ${admin.username} disabled; its sessions and API tokens have stopped.` : `Admin ${admin.username} enabled.`);
  res.redirect(303, adminUrl(admin.username));
};

export const deleteAdmin = (svc: Services): RequestHandler => async (req, res) => {
  const admin = await svc.admins.deleteAdmin(res.locals.actor!, req.params.username, req.ip);
  setFlash(req, 'success', `Admin ${admin.username} deleted.`);
  res.redirect(303, '/admin/admins');
};
