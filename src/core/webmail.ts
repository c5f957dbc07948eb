import { writePassword, type AccountWriteDeps } from './account-writes.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import { displayAddress } from './login-names.js';
import type { Logins } from './logins.js';
import type { PasswordRules } from './password-rules.js';
import type { PolicyContext } from './passwords.js';

/** SPEC §16's answers: `ok`, or the status and the reason as one line of text. */
export type WebmailAnswer = { ok: true } | { ok: false; status: 400 | 401 | 429; reason: string; retryAfterSeconds?: number };

export interface WebmailPasswords {
  /**
   * SPEC §16: a webmail changes its user's password (Roundcube's `password` plugin, `httpapi`
   * driver). The current password is checked as a login (limits, history as `webmail`), then the
   * policy and "must differ"; the change logs the mailbox out everywhere, as every change does.
   */
  change(input: { user: unknown; curpass: unknown; newpass: unknown }, ip: string | null): Promise<WebmailAnswer>;
}

export interface WebmailDeps extends AccountWriteDeps {
  logins: Pick<Logins, 'attempt'>;
  rules: PasswordRules;
  audit: Audit;
  alerts: Pick<Alerts, 'raise'>;
  policyContext(address: string): PolicyContext;
}

export function createWebmailPasswords(deps: WebmailDeps): WebmailPasswords {
  const { logins, rules, audit, alerts } = deps;
  return {
    async change({ user, curpass, newpass }, ip) {
      if (typeof user !== 'string' || typeof curpass !== 'string' || typeof newpass !== 'string' || user === '' || curpass === '') {
        return { ok: false, status: 400, reason: 'user, curpass and newpass are required form fields.' };
      }
      const login = await logins.attempt({ protocol: 'webmail', name: user, password: curpass, ip });
      if (!login.ok) {
        return login.reason === 'bad-credentials'
          ? { ok: false, status: 401, reason: 'The current password is not correct.' }
          : { ok: false, status: 429, reason: `Too many attempts: try again in ${login.retryAfterSeconds} seconds.`, retryAfterSeconds: login.retryAfterSeconds };
      }
      if (login.principal.kind !== 'account') return { ok: false, status: 401, reason: 'The current password is not correct.' };
      const { account } = login.principal;
      if (login.secondFactor) {
        return { ok: false, status: 400, reason: 'This mailbox has a second factor: change its password on the mailpass panel, where the second factor is asked.' };
      }
      const reasons = (await rules.check(newpass, deps.policyContext(account.login))).map((f) => f.message);
      if (reasons.length === 0 && newpass === curpass) reasons.push('Must differ from the current password.');
      if (reasons.length > 0) return { ok: false, status: 400, reason: `The new password was refused: ${reasons.join(' ')}` };
      const actor = { kind: 'mailbox' as const, id: account.id, login: account.login };
      const entry = audit.entry(actor, 'password.change', account.login, displayAddress(ip), 'webmail');
      // Only over the password the current one was checked against: a change made meanwhile wins.
      if ((await writePassword(deps, account, newpass, account.passwordVersion, entry)) === null) {
        return { ok: false, status: 400, reason: 'The password was changed meanwhile: log in again with the new one.' };
      }
      audit.logged(entry);
      alerts.raise(`mailbox:${account.id}`, 'password-changed', { by: 'owner', ip: displayAddress(ip) });
      return { ok: true };
    },
  };
}
