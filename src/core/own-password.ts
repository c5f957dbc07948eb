import type { Actor } from './actors.js';
import { ValidationError, type FieldErrors } from './errors.js';
import type { Logins } from './logins.js';
import type { PasswordRules } from './password-rules.js';
import type { PolicyContext } from './passwords.js';

export interface OwnPasswordInput {
  current: unknown;
  next: unknown;
  confirm: unknown;
}

/**
 * The checks of a password change by its owner, mailbox or admin alike (SPEC §4.1, §8): the current
 * password (counted against the name's web limit, audited when wrong), the policy, "must differ"
 * and the confirmation, every failure named beside its field. Returns the new password.
 */
export async function checkOwnPasswordChange(
  deps: { logins: Pick<Logins, 'verifyCurrentPassword'>; rules: PasswordRules },
  actor: Extract<Actor, { kind: 'mailbox' | 'admin' }>,
  currentHash: string,
  ctx: PolicyContext,
  input: OwnPasswordInput,
  ip: string | null,
  userAgent?: string,
): Promise<string> {
  const errors: FieldErrors = {};
  const current = typeof input.current === 'string' ? input.current : '';
  const next = typeof input.next === 'string' ? input.next : '';
  const currentOk = current !== '' && (await deps.logins.verifyCurrentPassword(actor, currentHash, current, ip, userAgent));
  if (!currentOk) errors.current_password = ['Is not correct.'];
  if (next === '') {
    errors.new_password = ['Is required.'];
  } else {
    const reasons = (await deps.rules.check(next, ctx)).map((f) => f.message);
    if (reasons.length === 0 && currentOk && next === current) reasons.push('Must differ from the current password.');
    if (reasons.length > 0) errors.new_password = reasons;
  }
  if (input.confirm !== next) errors.confirm_password = ['Does not match the new password.'];
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return next;
}
