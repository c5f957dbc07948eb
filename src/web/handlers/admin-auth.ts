import type { RequestHandler } from 'express';
import type { Services } from '../../services.js';
import { AdminLoginForm, formView, parseForm } from '../forms.js';
import { endSession, startSession } from '../middleware/auth.js';
import type { LoginLimits } from '../middleware/login-limits.js';

const VIEW_LOGIN = 'admin/login';
const FAILED = 'The username or password is incorrect.';

export const showAdminLogin: RequestHandler = (req, res) => {
  if (res.locals.actor?.kind === 'admin') return res.redirect(303, '/admin/domains');
  res.render(VIEW_LOGIN, { values: {} });
};

export const adminLogin = (svc: Services, limits: LoginLimits): RequestHandler => async (req, res) => {
  formView(res, VIEW_LOGIN, {}, req.body);
  const form = parseForm(AdminLoginForm, req.body);
  await limits.consume(req, `admin:${form.username}`, () => svc.audit.record(`admin:${form.username}`, 'admin-login.failure-limited', form.username, req.ip));
  const admin = await svc.auth.authenticateAdmin(form.username, form.password);
  if (!admin) {
    await svc.audit.record(`admin:${form.username}`, 'admin-login.failure', form.username, req.ip);
    return res.status(401).render(VIEW_LOGIN, { values: { username: form.username }, errors: { form: [FAILED] } });
  }
  await limits.reward(req, res, `admin:${form.username}`);
  await startSession(req, `admin:${admin.id}`, admin.passwordVersion, svc.clock.now());
  await svc.audit.record(`admin:${admin.username}`, 'admin-login.success', admin.username, req.ip);
  res.redirect(303, '/admin/domains');
};

export const adminLogout: RequestHandler = async (req, res) => {
  await endSession(req);
  res.redirect(303, '/admin/login');
};
