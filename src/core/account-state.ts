import type { Account, Admin } from './ports.js';

// "May this owner be in": one answer for every door (the password step of each protocol, the
// second step, a web session's every request, an API token). Kept here, and asked only here.

/** A mailbox or a credential logs in while it is enabled and its domain is verified. */
export const accountMayBeIn = (account: Pick<Account, 'disabled' | 'domainVerified'>): boolean => !account.disabled && account.domainVerified;

/** An admin logs in (and its tokens work) while it is enabled. */
export const adminMayBeIn = (admin: Pick<Admin, 'disabled'>): boolean => !admin.disabled;

/**
 * A login that began with password version `pwv` (a web session, a second step that waits) holds
 * while its owner may be in and the password is still that one: a change ends it everywhere.
 */
export function stillIn(owner: { kind: 'admin'; admin: Admin } | { kind: 'mailbox'; account: Account }, pwv: number | undefined): boolean {
  if (owner.kind === 'admin') return adminMayBeIn(owner.admin) && owner.admin.passwordVersion === pwv;
  return owner.account.kind === 'mailbox' && accountMayBeIn(owner.account) && owner.account.passwordVersion === pwv;
}
