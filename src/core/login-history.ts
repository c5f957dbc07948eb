import type { Actor } from './actors.js';
import type { CredentialService } from './credentials.js';
import type { MailboxService } from './mailboxes.js';
import type { Domain, LoginHistoryRow, Stores } from './ports.js';

/** Rows shown at most (newest first): a month of an active account's days and addresses. */
export const HISTORY_LIMIT = 200;

export interface LoginHistoryService {
  /** The mailbox owner's own history (`/account`, "Recent activity"). */
  own(actor: Extract<Actor, { kind: 'mailbox' }>): Promise<LoginHistoryRow[]>;
  ofMailbox(actor: Actor, domain: Domain, address: unknown): Promise<LoginHistoryRow[]>;
  ofCredential(actor: Actor, domain: Domain, guid: unknown): Promise<LoginHistoryRow[]>;
}

/** SPEC §10: who may read which account's login history; the same rules as the account itself. */
export function createLoginHistoryService({ stores, mailboxes, credentials }: { stores: Pick<Stores, 'loginHistory'>; mailboxes: MailboxService; credentials: CredentialService }): LoginHistoryService {
  return {
    // The session's own mailbox, by its id: no read of the account first (its page reads it once).
    own: (actor) => stores.loginHistory.listLoginHistory(actor.id, HISTORY_LIMIT),
    ofMailbox: async (actor, domain, address) => stores.loginHistory.listLoginHistory((await mailboxes.getMailbox(actor, domain, address)).id, HISTORY_LIMIT),
    ofCredential: async (actor, domain, guid) => stores.loginHistory.listLoginHistory((await credentials.getCredential(actor, domain, guid)).id, HISTORY_LIMIT),
  };
}
