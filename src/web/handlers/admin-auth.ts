import type { RequestHandler } from 'express';
import { AuthError, RateLimitedError } from '../../core/errors.js';
import type { Services } from '../../services.js';
import { AdminLoginForm, formView, parseForm } from '../forms.js';
import { browserMarkOf, setBrowserMark } from '../known-browser.js';
import { endSession, startPending, startSession } from '../middleware/auth.js';
import { PASSWORD_UPDATED } from './user.js';

const VIEW_LOGIN = 'admin/login';
const FAILED = 'The username or password is incorrect.';

export const showAdminLogin: RequestHandler = (req, res) => {
  if (res.locals.actor?.kind === 'admin') return res.redirect(303, '/admin/domains');
  res.render(VIEW_LOGIN, { values: {}, notice: req.query.updated === '1' ? PASSWORD_UPDATED : null });
};

export const adminLogin = (svc: Services): RequestHandler => async (req, res) => {
  formView(res, VIEW_LOGIN, {}, req.body);
  const form = parseForm(AdminLoginForm, req.body);
  const result = await svc.logins.attempt({ protocol: 'web', realm: 'admin', name: form.username, password: form.password, ip: req.ip ?? null, browserMark: browserMarkOf(req) });
  if (!result.ok) {
    if (result.reason !== 'bad-credentials') throw new RateLimitedError(result.retryAfterSeconds);
    return res.status(401).render(VIEW_LOGIN, { values: { username: form.username }, errors: { form: [FAILED] } });
  }
  if (result.principal.kind !== 'admin') throw new AuthError();
  const { admin } = result.principal;
  if (result.secondFactor) {
    await startPending(req, `admin:${admin.id}`, admin.passwordVersion, svc.clock.now());
    return res.redirect(303, '/admin/login/second-factor');
  }
  if (result.browserMark) setBrowserMark(req, res, result.browserMark);
  await startSession(req, `admin:${admin.id}`, admin.passwordVersion, svc.clock.now());
  res.redirect(303, admin.mustChangePassword ? '/admin/account' : '/admin/domains');
};

export const adminLogout: RequestHandler = async (req, res) => {
  await endSession(req);
  res.redirect(303, '/admin/login');
};
