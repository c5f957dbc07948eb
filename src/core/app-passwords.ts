import type { Actor } from './actors.js';
import { parseDisplayName } from './addresses.js';
import type { Audit } from './audit.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { MailboxService } from './mailboxes.js';
import type { PasswordRules } from './password-rules.js';
import type { Alerts } from './alerts.js';
import { APP_TAG_LENGTH, SELECTOR_BITS, type AppSelectors } from './app-selectors.js';
import type { Account, AccountEvents, AppPassword, Clock, Hasher, Stores, ImapSessions } from './ports.js';

/** App passwords a mailbox may hold. */
const MAX_APP_PASSWORDS = 20;

type MailboxActor = Extract<Actor, { kind: 'mailbox' }>;

export interface AppPasswordService {
  /** A new app password, generated (20 characters) and returned once; only its hash and tag are kept. */
  create(actor: MailboxActor, name: unknown, ip?: string | null): Promise<{ appPassword: AppPassword; password: string }>;
  list(actor: MailboxActor): Promise<AppPassword[]>;
  /** What Dovecot's query needs to find app passwords by their selectors (`mailpass dovecot-config`). */
  dovecotSelector(): Promise<{ salt: string; bits: number }>;
  /** How many app passwords a mailbox the caller already resolved holds (they stop working with a password change). */
  countFor(mailbox: Account): Promise<number>;
  /** Revokes one: it stops logging in, and its live SMTP sessions end. */
  revoke(actor: MailboxActor, id: unknown, ip?: string | null): Promise<AppPassword>;
}

/** SPEC §11: named app passwords for mail apps, the only way in over SMTP and IMAP once a second factor is on. */
export function createAppPasswordService({
  stores,
  hasher,
  clock,
  audit,
  rules,
  mailboxes,
  events,
  imap,
  alerts,
  selectors,
}: {
  stores: Pick<Stores, 'appPasswords'>;
  hasher: Hasher;
  clock: Clock;
  audit: Audit;
  rules: PasswordRules;
  mailboxes: MailboxService;
  events: AccountEvents;
  imap: ImapSessions | null;
  alerts: Pick<Alerts, 'raise'>;
  selectors: AppSelectors;
}): AppPasswordService {
  return {
    async create(actor, nameInput, ip = null) {
      const name = parseDisplayName(nameInput, 'name', { required: true });
      const mailbox = await mailboxes.getOwnMailbox(actor);
      const existing = await stores.appPasswords.listAppPasswords(mailbox.id);
      if (existing.length >= MAX_APP_PASSWORDS) throw new ConflictError('conflict', `A mailbox holds at most ${MAX_APP_PASSWORDS} app passwords; revoke one first`);
      const ctx = mailboxes.policyContext(mailbox.login);
      // Tag and selector must each be unique within the mailbox (the selector clashes about once in
      // 3,000 draws with 20 app passwords): draw again if either is not.
      let password: string;
      let selector: string;
      do {
        password = rules.generate(ctx);
        selector = await selectors.of(password);
      } while (existing.some((a) => a.tag === password.slice(0, APP_TAG_LENGTH) || a.selector === selector));
      const entry = audit.entry(actor, 'app-password.create', mailbox.login, ip, name);
      const appPassword = await stores.appPasswords.insertAppPassword(
        { accountId: mailbox.id, name, tag: password.slice(0, APP_TAG_LENGTH), selector, passwordHash: await hasher.hash(password), now: clock.now() },
        entry,
      );
      audit.logged(entry);
      // A lasting way in to the mailbox's mail: its owner hears of it (issue 29).
      alerts.raise(`mailbox:${mailbox.id}`, 'app-password-created', { ip: entry.ip, name });
      return { appPassword, password };
    },

    // By the session's mailbox id, as recovery.state: the account page reads the account once itself.
    list: (actor) => stores.appPasswords.listAppPasswords(actor.id),

    async dovecotSelector() {
      return { salt: await selectors.salt(), bits: SELECTOR_BITS };
    },

    async countFor(mailbox) {
      return mailbox.kind === 'mailbox' ? (await stores.appPasswords.listAppPasswords(mailbox.id)).length : 0;
    },

    async revoke(actor, idInput, ip = null) {
      const mailbox = await mailboxes.getOwnMailbox(actor);
      const id = Number(idInput);
      const appPassword = Number.isInteger(id) ? (await stores.appPasswords.listAppPasswords(mailbox.id)).find((a) => a.id === id) : undefined;
      if (!appPassword) throw new NotFoundError('token-not-found', 'App password not found');
      const entry = audit.entry(actor, 'app-password.revoke', mailbox.login, ip, appPassword.name);
      if (await stores.appPasswords.deleteAppPassword(mailbox.id, id, entry)) {
        audit.logged(entry);
        events.emitAppPasswordRevoked(id);
        // Dovecot cannot end one app password's sessions: the mailbox's all end, and its other
        // mail apps log in again with their own app passwords.
        imap?.end(mailbox.login);
      }
      return appPassword;
    },
  };
}
