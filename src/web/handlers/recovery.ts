import type { Request, RequestHandler, Response } from 'express';
import type { Services } from '../../services.js';
import { formView } from '../forms.js';

// SPEC §16: the recovery address on /account, and a forgotten password without an admin. Every
// page here but the first is opened from a link in a mail, by a visitor with no session.

export const FORGOT_ANSWER = 'If this address has a recovery address, a link to reset its password is on its way.';

const VIEW_FORGOT = 'user/forgot';
const VIEW_RESET = 'user/reset';
const VIEW_CONFIRM = 'user/recovery-confirm';

/**
 * Where links in mail point: PUBLIC_URL, else the address this request reached the server on,
 * never a Host header (which whoever asks for the link chooses).
 */
export function linkBase(svc: Services, req: Request): string {
  if (svc.config.publicUrl) return svc.config.publicUrl;
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return `http://${address.includes(':') ? `[${address}]` : address}:${req.socket.localPort}`;
}

/** Without a relay no link can be mailed: the pages say so instead of taking a request that goes nowhere. */
const requireRelay = (svc: Services, res: Response) => {
  if (svc.recovery.available) return true;
  res.status(404).render('error', { titleKey: 'error.not-available', message: 'This server sends no mail, so a forgotten password is reset by your mail administrator.' });
  return false;
};

export const showForgot = (svc: Services): RequestHandler => (_req, res) => {
  if (requireRelay(svc, res)) res.render(VIEW_FORGOT, { values: {} });
};

/** The same page, text and time for every address: the work happens after the answer. */
export const forgot = (svc: Services): RequestHandler => async (req, res) => {
  if (!requireRelay(svc, res)) return;
  formView(res, VIEW_FORGOT, {}, req.body);
  await svc.recovery.forgot(req.body?.email, linkBase(svc, req), req.ip ?? null, res.locals.lang);
  res.render(VIEW_FORGOT, { values: {}, sent: FORGOT_ANSWER, linkMinutes: svc.config.resetLinkMinutes });
};

/** The link: the second factor's code first when one is on, then the new password. */
export const showReset = (svc: Services): RequestHandler => async (req, res) => {
  res.set('Cache-Control', 'no-store');
  const reset = await svc.recovery.openReset(req.params.token);
  res.render(VIEW_RESET, { reset, token: req.params.token, step: reset.secondFactor ? 'code' : 'password', values: {} });
};

export const resetCode = (svc: Services): RequestHandler => async (req, res) => {
  res.set('Cache-Control', 'no-store');
  const token = String(req.params.token);
  const reset = await svc.recovery.openReset(token);
  formView(res, VIEW_RESET, { reset, token, step: 'code' }, {});
  const proof = await svc.recovery.proveReset(token, req.body?.code, req.ip ?? null);
  res.render(VIEW_RESET, { reset, token, step: 'password', proof, values: {} });
};

export const reset = (svc: Services): RequestHandler => async (req, res) => {
  res.set('Cache-Control', 'no-store');
  const token = String(req.params.token);
  const opened = await svc.recovery.openReset(token);
  const proof = typeof req.body?.proof === 'string' ? req.body.proof : undefined;
  formView(res, VIEW_RESET, { reset: opened, token, step: 'password', proof }, {});
  await svc.recovery.reset(token, { proof, next: req.body?.new_password, confirm: req.body?.confirm_password }, req.ip ?? null);
  res.redirect(303, '/login?reset=1');
};

export const showConfirmRecovery = (svc: Services): RequestHandler => async (req, res) => {
  res.set('Cache-Control', 'no-store');
  const link = await svc.recovery.openConfirm(req.params.token);
  res.render(VIEW_CONFIRM, { link, token: req.params.token, done: false });
};

/** A post, not the GET of the link: a mail scanner that opens links confirms nothing. */
export const confirmRecovery = (svc: Services): RequestHandler => async (req, res) => {
  const link = await svc.recovery.confirm(req.params.token, req.ip ?? null);
  res.render(VIEW_CONFIRM, { link, done: true });
};
