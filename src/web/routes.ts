import express, { Router } from 'express';
import type { Services } from '../services.js';
import { generateAdminPassword, showAdminAccount, updateAdminPassword } from './handlers/admin-account.js';
import { mobileconfig, mobileconfigWithAppPassword } from './handlers/autoconfig.js';
import {
  addPasskey,
  confirmPassword,
  createAppPassword,
  passkeyOptions,
  revokeAppPassword,
  passkeyStep,
  passkeyStepOptions,
  removeAdminFactors,
  removeMailboxFactors,
  secondStep,
  showSecondStep,
  showSecurity,
  turnOnTotp,
} from './handlers/second-factor.js';
import { BODY_LIMIT } from './limits.js';
import { createAdmin, deleteAdmin, listAdmins, setAdminDisabled, showEditAdmin, updateAdmin } from './handlers/admin-admins.js';
import { showAudit } from './handlers/admin-audit.js';
import {
  createCredential,
  deleteCredential,
  resetCredential,
  saveCredentialLimits,
  showCredential,
  showDeleteCredential,
  showNewCredential,
  showResetCredential,
} from './handlers/admin-credentials.js';
import { createToken, listTokens, revokeToken } from './handlers/admin-tokens.js';
import { createWebhook, deleteWebhook, listWebhooks, resumeWebhook, sendTestEvent, showWebhook } from './handlers/admin-webhooks.js';
import { addDkim, checkDns, createDomain, listDomains, removeDkim, saveDomainLimits, showDns, showDomain } from './handlers/admin-domains.js';
import {
  createMailbox,
  deleteMailbox,
  generateMailboxPassword,
  saveMailboxLimits,
  setMailboxDisabled,
  showDeleteMailbox,
  showEditMailbox,
  showNewMailbox,
  updateMailboxPassword,
} from './handlers/admin-mailboxes.js';
import { login, showLogin } from './handlers/login.js';
import { beginSso, CALLBACK_PATH, finishSso, logoutWithSso } from './handlers/sso.js';
import { confirmRecovery, forgot, reset, resetCode, showConfirmRecovery, showForgot, showReset } from './handlers/recovery.js';
import { generateOwnPassword, saveRecoveryAddress, showAccount, updatePassword } from './handlers/user.js';
import { requireAdmin, requireMailbox, requireRecentPassword, requireSuperAdmin } from './middleware/auth.js';
import { resolveDomain } from './middleware/domain.js';
import { setLanguage } from './middleware/language.js';

/** Every page of the panel, in one table. URLs are SPEC §4's; forms use GET and POST only. */
export function panelRoutes(svc: Services): Router {
  const r = Router();
  // A domain named in a URL is read once per request, here, and passed on resolved.
  r.param('domain', resolveDomain(svc));
  // The passkey ceremonies post WebAuthn's JSON (their CSRF token comes in a header).
  const json = express.json({ limit: BODY_LIMIT });
  const M = '/admin/domains/:domain/mailboxes';
  const C = '/admin/domains/:domain/credentials';

  r.get('/', (_req, res) => res.redirect(303, '/login'));
  r.get('/login', showLogin('account'));
  r.post('/login', login(svc, 'account'));
  r.get('/login/second-factor', showSecondStep(svc, 'account'));
  r.post('/login/second-factor', secondStep(svc, 'account'));
  r.post('/login/second-factor/passkey/options', passkeyStepOptions(svc, 'account'));
  r.post('/login/second-factor/passkey', json, passkeyStep(svc, 'account'));
  r.post('/logout', logoutWithSso(svc, 'account'));
  // SPEC §18: single sign-on (404 unless OIDC_ISSUER is set; for mailboxes, OIDC_USERS too).
  r.get('/login/oidc', beginSso(svc, 'account'));
  r.get('/admin/login/oidc', beginSso(svc, 'admin'));
  r.get(CALLBACK_PATH, finishSso(svc));
  // SPEC §16: a forgotten password, and a recovery address's confirmation, from links in mail.
  r.get('/login/forgot', showForgot(svc));
  r.post('/login/forgot', forgot(svc));
  r.get('/login/reset/:token', showReset(svc));
  r.post('/login/reset/:token/code', resetCode(svc));
  r.post('/login/reset/:token', reset(svc));
  r.get('/login/recovery/:token', showConfirmRecovery(svc));
  r.post('/login/recovery/:token', confirmRecovery(svc));
  // SPEC §17: the footer's language selector (a visitor's GET, a signed-in owner's POST).
  r.get('/language', setLanguage(svc));
  r.post('/language', setLanguage(svc));
  r.get('/account', requireMailbox, showAccount(svc));
  r.post('/account', requireMailbox, updatePassword(svc));
  r.post('/account/generate', requireMailbox, generateOwnPassword(svc));
  r.post('/account/recovery', requireMailbox, saveRecoveryAddress(svc));
  r.get('/account/security', requireMailbox, showSecurity(svc, 'account'));
  r.get('/account/mobileconfig', requireMailbox, mobileconfig(svc));
  // Issue 29: each lasting way in needs the password typed in the last 5 minutes.
  const recent = requireRecentPassword(svc, '/account/security');
  const adminRecent = requireRecentPassword(svc, '/admin/account/security');
  r.post('/account/mobileconfig', requireMailbox, recent, mobileconfigWithAppPassword(svc));
  r.post('/account/security/confirm', requireMailbox, confirmPassword(svc, 'account'));
  r.post('/account/security/totp', requireMailbox, recent, turnOnTotp(svc, 'account'));
  r.post('/account/security/passkey/options', requireMailbox, recent, passkeyOptions(svc));
  r.post('/account/security/passkey', requireMailbox, recent, json, addPasskey(svc));
  r.post('/account/security/app-passwords', requireMailbox, recent, createAppPassword(svc));
  r.post('/account/security/app-passwords/:id/revoke', requireMailbox, revokeAppPassword(svc));

  r.get('/admin', (_req, res) => res.redirect(303, '/admin/domains'));
  r.get('/admin/login', showLogin('admin'));
  r.post('/admin/login', login(svc, 'admin'));
  r.get('/admin/login/second-factor', showSecondStep(svc, 'admin'));
  r.post('/admin/login/second-factor', secondStep(svc, 'admin'));
  r.post('/admin/login/second-factor/passkey/options', passkeyStepOptions(svc, 'admin'));
  r.post('/admin/login/second-factor/passkey', json, passkeyStep(svc, 'admin'));
  r.post('/admin/logout', logoutWithSso(svc, 'admin'));
  r.get('/admin/account', requireAdmin, showAdminAccount(svc));
  r.post('/admin/account', requireAdmin, updateAdminPassword(svc));
  r.post('/admin/account/generate', requireAdmin, generateAdminPassword(svc));
  r.get('/admin/account/security', requireAdmin, showSecurity(svc, 'admin'));
  r.post('/admin/account/security/confirm', requireAdmin, confirmPassword(svc, 'admin'));
  r.post('/admin/account/security/totp', requireAdmin, adminRecent, turnOnTotp(svc, 'admin'));
  r.post('/admin/account/security/passkey/options', requireAdmin, adminRecent, passkeyOptions(svc));
  r.post('/admin/account/security/passkey', requireAdmin, adminRecent, json, addPasskey(svc));

  r.get('/admin/domains', requireAdmin, listDomains(svc));
  r.post('/admin/domains', requireSuperAdmin, createDomain(svc));
  r.get('/admin/domains/:domain', requireAdmin, showDomain(svc));
  r.post('/admin/domains/:domain/limits', requireAdmin, saveDomainLimits(svc));
  r.get(`${M}/new`, requireAdmin, showNewMailbox(svc));
  r.post(M, requireAdmin, createMailbox(svc));
  r.post(`${M}/generate`, requireAdmin, generateMailboxPassword(svc));
  r.get(`${M}/:address`, requireAdmin, showEditMailbox(svc));
  r.post(`${M}/:address/password`, requireAdmin, updateMailboxPassword(svc));
  r.post(`${M}/:address/generate`, requireAdmin, generateMailboxPassword(svc));
  r.post(`${M}/:address/disable`, requireAdmin, setMailboxDisabled(svc, true));
  r.post(`${M}/:address/second-factors/remove`, requireSuperAdmin, removeMailboxFactors(svc));
  r.post(`${M}/:address/enable`, requireAdmin, setMailboxDisabled(svc, false));
  r.post(`${M}/:address/limits`, requireAdmin, saveMailboxLimits(svc));
  r.get(`${M}/:address/delete`, requireAdmin, showDeleteMailbox(svc));
  r.post(`${M}/:address/delete`, requireAdmin, deleteMailbox(svc));

  r.get(`${C}/new`, requireAdmin, showNewCredential(svc));
  r.post(C, requireAdmin, createCredential(svc));
  r.get(`${C}/:guid`, requireAdmin, showCredential(svc));
  r.get(`${C}/:guid/reset`, requireAdmin, showResetCredential(svc));
  r.post(`${C}/:guid/reset`, requireAdmin, resetCredential(svc));
  r.post(`${C}/:guid/limits`, requireAdmin, saveCredentialLimits(svc));
  r.post('/admin/domains/:domain/dkim', requireAdmin, addDkim(svc));
  r.post('/admin/domains/:domain/dkim/:selector/remove', requireAdmin, removeDkim(svc));
  r.get('/admin/domains/:domain/dns', requireAdmin, showDns(svc));
  r.post('/admin/domains/:domain/dns', requireAdmin, checkDns(svc));
  r.get(`${C}/:guid/delete`, requireAdmin, showDeleteCredential(svc));
  r.post(`${C}/:guid/delete`, requireAdmin, deleteCredential(svc));

  r.get('/admin/tokens', requireAdmin, listTokens(svc));
  r.post('/admin/tokens', requireAdmin, createToken(svc));
  r.post('/admin/tokens/:id/revoke', requireAdmin, revokeToken(svc));

  r.get('/admin/webhooks', requireAdmin, listWebhooks(svc));
  r.post('/admin/webhooks', requireAdmin, createWebhook(svc));
  r.get('/admin/webhooks/:webhook', requireAdmin, showWebhook(svc));
  r.post('/admin/webhooks/:webhook/test', requireAdmin, sendTestEvent(svc));
  r.post('/admin/webhooks/:webhook/resume', requireAdmin, resumeWebhook(svc));
  r.post('/admin/webhooks/:webhook/delete', requireAdmin, deleteWebhook(svc));

  r.get('/admin/admins', requireSuperAdmin, listAdmins(svc));
  r.post('/admin/admins', requireSuperAdmin, createAdmin(svc));
  r.get('/admin/admins/:username', requireSuperAdmin, showEditAdmin(svc));
  r.post('/admin/admins/:username', requireSuperAdmin, updateAdmin(svc));
  r.post('/admin/admins/:username/disable', requireSuperAdmin, setAdminDisabled(svc, true));
  r.post('/admin/admins/:username/enable', requireSuperAdmin, setAdminDisabled(svc, false));
  r.post('/admin/admins/:username/delete', requireSuperAdmin, deleteAdmin(svc));
  r.post('/admin/admins/:username/second-factors/remove', requireSuperAdmin, removeAdminFactors(svc));
  r.get('/admin/audit', requireSuperAdmin, showAudit(svc));
  return r;
}
