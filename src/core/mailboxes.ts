import { writeDisabled, writePassword, removeAccount, type AccountWriteDeps } from './account-writes.js';
import { canSeeDomain, type Actor } from './actors.js';
import { parseAddress, parseDisplayName } from './addresses.js';
import type { Alerts } from './alerts.js';
import type { Audit } from './audit.js';
import type { DomainService } from './domains.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { Logins } from './logins.js';
import { checkOwnPasswordChange, type OwnPasswordInput } from './own-password.js';
import type { PasswordRules } from './password-rules.js';
import type { PolicyContext } from './passwords.js';
import type { Account, Domain, Page } from './ports.js';

export const MAILBOX_PAGE_SIZE = 50;

export type PasswordInput = { password: unknown } | { generate: true };

export interface MailboxService {
  /** `resolved`: the domain of the request, when the caller has it already (it is not read again). */
  addMailbox(actor: Actor, input: { address: unknown; name?: unknown } & PasswordInput, ip?: string | null, resolved?: Domain): Promise<{ mailbox: Account; password: string | null }>;
  /** `domain` is resolved once per request (DomainService.requireDomain) and passed on resolved. */
  listMailboxes(actor: Actor, domain: Domain, query: { search?: unknown; page?: unknown }): Promise<Page<Account> & { search: string }>;
  getMailbox(actor: Actor, domain: Domain, address: unknown): Promise<Account>;
  /** The mailbox owner's own account. */
  getOwnMailbox(actor: Extract<Actor, { kind: 'mailbox' }>): Promise<Account>;
  /**
   * An admin sets a password without knowing the old one; returns the password (generated or
   * given). A given password must differ from the current one.
   */
  resetPassword(actor: Actor, domain: Domain, address: unknown, input: PasswordInput, ip?: string | null): Promise<{ mailbox: Account; password: string; generated: boolean }>;
  /** A mailbox owner changes its own password, knowing the current one. */
  changeOwnPassword(actor: Extract<Actor, { kind: 'mailbox' }>, input: OwnPasswordInput, ip?: string | null, userAgent?: string): Promise<void>;
  setDisabled(actor: Actor, domain: Domain, address: unknown, disabled: boolean, ip?: string | null): Promise<Account>;
  deleteMailbox(actor: Actor, domain: Domain, address: unknown, ip?: string | null): Promise<Account>;
  /** The policy context of a mailbox: its local part and domain must not appear in its password. */
  policyContext(address: string): PolicyContext;
}

export interface MailboxDeps extends AccountWriteDeps {
  audit: Audit;
  alerts: Pick<Alerts, 'raise'>;
  domains: DomainService;
  rules: PasswordRules;
  logins: Pick<Logins, 'verifyCurrentPassword'>;
}

const policyContext = (address: string): PolicyContext => {
  const at = address.lastIndexOf('@');
  return { localPart: address.slice(0, at), domain: address.slice(at + 1) };
};

export function createMailboxService(deps: MailboxDeps): MailboxService {
  const { stores, hasher, clock, audit, domains, rules, alerts } = deps;

  const choosePassword = async (input: PasswordInput, ctx: PolicyContext, field: string, currentHash?: string) =>
    'generate' in input
      ? { password: rules.generate(ctx), generated: true }
      : { password: await rules.assertAcceptable(input.password, ctx, field, currentHash), generated: false };

  const getMailbox = async (actor: Actor, domain: Domain, addressInput: unknown) => {
    if (!canSeeDomain(actor, domain.id)) throw new NotFoundError('domain-not-found', 'Domain not found');
    const address = typeof addressInput === 'string' && addressInput.length <= 320 ? addressInput.trim().toLowerCase() : '';
    const account = address ? await stores.accounts.findAccountByLogin(address) : null;
    if (!account || account.kind !== 'mailbox' || account.domainId !== domain.id) {
      throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
    }
    return account;
  };

  return {
    policyContext,
    getMailbox,

    async addMailbox(actor, input, ip = null, resolved) {
      const { address, localPart, domain: domainName } = parseAddress(input.address);
      const name = parseDisplayName(input.name);
      const domain = resolved?.name === domainName && canSeeDomain(actor, resolved.id) ? resolved : await domains.requireDomain(actor, domainName);
      const { password, generated } = await choosePassword(input, { localPart, domain: domainName }, 'password');
      if (await stores.accounts.findAccountByLogin(address)) {
        throw new ConflictError('login-taken', `${address} is already in use`);
      }
      const hash = await hasher.hash(password);
      const entry = audit.entry(actor, 'mailbox.create', address, ip);
      const mailbox = await stores.accounts
        .insertAccount({ kind: 'mailbox', domainId: domain.id, login: address, localPart, name, guid: null, passwordHash: hash, now: clock.now() }, entry)
        .catch((err: unknown) => {
          throw err instanceof ConflictError ? new ConflictError('login-taken', `${address} is already in use`, { cause: err }) : err;
        });
      audit.logged(entry);
      return { mailbox, password: generated ? password : null };
    },

    async listMailboxes(actor, domain, query) {
      if (!canSeeDomain(actor, domain.id)) throw new NotFoundError('domain-not-found', 'Domain not found');
      const search = typeof query.search === 'string' ? query.search.trim().toLowerCase().slice(0, 320) : '';
      const requested = Number(query.page);
      const page = Number.isInteger(requested) && requested > 0 && requested < 1e6 ? requested : 1;
      const { items, total } = await stores.accounts.listAccounts(domain.id, 'mailbox', {
        search,
        limit: MAILBOX_PAGE_SIZE,
        offset: (page - 1) * MAILBOX_PAGE_SIZE,
      });
      return { items, total, page, pageSize: MAILBOX_PAGE_SIZE, search };
    },

    async getOwnMailbox(actor) {
      const mailbox = await stores.accounts.findAccountById(actor.id);
      if (!mailbox || mailbox.kind !== 'mailbox') throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
      return mailbox;
    },

    async resetPassword(actor, domain, addressInput, input, ip = null) {
      const mailbox = await getMailbox(actor, domain, addressInput);
      const { password, generated } = await choosePassword(input, policyContext(mailbox.login), 'password', mailbox.passwordHash);
      const entry = audit.entry(actor, 'password.reset', mailbox.login, ip);
      await writePassword(deps, mailbox, password, undefined, entry);
      audit.logged(entry);
      alerts.raise(`mailbox:${mailbox.id}`, 'password-changed', { by: 'admin' });
      return { mailbox, password, generated };
    },

    async changeOwnPassword(actor, input, ip = null, userAgent) {
      const mailbox = await this.getOwnMailbox(actor);
      const next = await checkOwnPasswordChange(deps, actor, mailbox.passwordHash, policyContext(mailbox.login), input, ip, userAgent);
      const entry = audit.entry(actor, 'password.change', mailbox.login, ip);
      await writePassword(deps, mailbox, next, undefined, entry);
      audit.logged(entry);
      alerts.raise(`mailbox:${mailbox.id}`, 'password-changed', { by: 'owner', ip: entry.ip });
    },

    async setDisabled(actor, domain, addressInput, disabled, ip = null) {
      const mailbox = await getMailbox(actor, domain, addressInput);
      const entry = audit.entry(actor, disabled ? 'mailbox.disable' : 'mailbox.enable', mailbox.login, ip);
      await writeDisabled(deps, mailbox, disabled, entry);
      audit.logged(entry);
      return { ...mailbox, disabled };
    },

    async deleteMailbox(actor, domain, addressInput, ip = null) {
      const mailbox = await getMailbox(actor, domain, addressInput);
      const entry = audit.entry(actor, 'mailbox.delete', mailbox.login, ip);
      await removeAccount(deps, mailbox, entry);
      audit.logged(entry);
      return mailbox;
    },
  };
}
