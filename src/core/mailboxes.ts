import { writeDisabled, writePassword, removeAccount, type AccountWriteDeps } from './account-writes.js';
import type { Actor } from './actors.js';
import { parseAddress, parseDisplayName } from './addresses.js';
import type { Audit } from './audit.js';
import type { DomainService } from './domains.js';
import { ConflictError, NotFoundError, ValidationError, type FieldErrors } from './errors.js';
import type { PasswordRules } from './password-rules.js';
import type { PolicyContext } from './passwords.js';
import type { Account, Page } from './ports.js';

export const MAILBOX_PAGE_SIZE = 50;

export type PasswordInput = { password: unknown } | { generate: true };

export interface MailboxService {
  addMailbox(actor: Actor, input: { address: unknown; name?: unknown } & PasswordInput, ip?: string | null): Promise<{ mailbox: Account; password: string | null }>;
  listMailboxes(actor: Actor, domain: unknown, query: { search?: unknown; page?: unknown }): Promise<Page<Account> & { search: string }>;
  getMailbox(actor: Actor, domain: unknown, address: unknown): Promise<Account>;
  /** An admin sets a password without knowing the old one; returns the password (generated or given). */
  resetPassword(actor: Actor, domain: unknown, address: unknown, input: PasswordInput, ip?: string | null): Promise<{ mailbox: Account; password: string; generated: boolean }>;
  /** A mailbox owner changes its own password, knowing the current one. */
  changeOwnPassword(accountId: number, input: { current: unknown; next: unknown; confirm: unknown }, ip?: string | null): Promise<void>;
  setDisabled(actor: Actor, domain: unknown, address: unknown, disabled: boolean, ip?: string | null): Promise<Account>;
  deleteMailbox(actor: Actor, domain: unknown, address: unknown, ip?: string | null): Promise<void>;
  /** The policy context of a mailbox: its local part and domain must not appear in its password. */
  policyContext(address: string): PolicyContext;
}

export interface MailboxDeps extends AccountWriteDeps {
  audit: Audit;
  domains: DomainService;
  rules: PasswordRules;
}

const policyContext = (address: string): PolicyContext => {
  const at = address.lastIndexOf('@');
  return { localPart: address.slice(0, at), domain: address.slice(at + 1) };
};

export function createMailboxService(deps: MailboxDeps): MailboxService {
  const { store, hasher, clock, audit, domains, rules } = deps;

  const choosePassword = async (input: PasswordInput, ctx: PolicyContext, field: string, currentHash?: string) =>
    'generate' in input
      ? { password: rules.generate(ctx), generated: true }
      : { password: await rules.assertAcceptable(input.password, ctx, field, currentHash), generated: false };

  const getMailbox = async (actor: Actor, domainInput: unknown, addressInput: unknown) => {
    const domain = await domains.requireDomain(actor, domainInput);
    const address = typeof addressInput === 'string' && addressInput.length <= 320 ? addressInput.trim().toLowerCase() : '';
    const account = address ? await store.findAccountByLogin(address) : null;
    if (!account || account.kind !== 'mailbox' || account.domainId !== domain.id) {
      throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
    }
    return account;
  };

  return {
    policyContext,
    getMailbox,

    async addMailbox(actor, input, ip = null) {
      const { address, localPart, domain: domainName } = parseAddress(input.address);
      const name = parseDisplayName(input.name);
      const domain = await domains.requireDomain(actor, domainName);
      const { password, generated } = await choosePassword(input, { localPart, domain: domainName }, 'password');
      if (await store.findAccountByLogin(address)) {
        throw new ConflictError('login-taken', `${address} is already in use`);
      }
      const hash = await hasher.hash(password);
      const mailbox = await store
        .insertAccount({ kind: 'mailbox', domainId: domain.id, login: address, localPart, name, guid: null, passwordHash: hash, now: clock.now() })
        .catch((err: unknown) => {
          throw err instanceof ConflictError ? new ConflictError('login-taken', `${address} is already in use`, { cause: err }) : err;
        });
      await audit.record(actor, 'mailbox.create', address, ip);
      return { mailbox, password: generated ? password : null };
    },

    async listMailboxes(actor, domainInput, query) {
      const domain = await domains.requireDomain(actor, domainInput);
      const search = typeof query.search === 'string' ? query.search.trim().toLowerCase().slice(0, 320) : '';
      const requested = Number(query.page);
      const page = Number.isInteger(requested) && requested > 0 && requested < 1e6 ? requested : 1;
      const { items, total } = await store.listAccounts(domain.id, 'mailbox', {
        search,
        limit: MAILBOX_PAGE_SIZE,
        offset: (page - 1) * MAILBOX_PAGE_SIZE,
      });
      return { items, total, page, pageSize: MAILBOX_PAGE_SIZE, search };
    },

    async resetPassword(actor, domainInput, addressInput, input, ip = null) {
      const mailbox = await getMailbox(actor, domainInput, addressInput);
      const { password, generated } = await choosePassword(input, policyContext(mailbox.login), 'password');
      const entry = audit.entry(actor, 'password.reset', mailbox.login, ip);
      await writePassword(deps, mailbox, password, undefined, entry);
      audit.logged(entry);
      return { mailbox, password, generated };
    },

    async changeOwnPassword(accountId, input, ip = null) {
      const mailbox = await store.findAccountById(accountId);
      if (!mailbox || mailbox.kind !== 'mailbox') throw new NotFoundError('mailbox-not-found', 'Mailbox not found');
      const errors: FieldErrors = {};
      const current = typeof input.current === 'string' ? input.current : '';
      const next = typeof input.next === 'string' ? input.next : '';
      if (current === '' || !(await hasher.verify(mailbox.passwordHash, current))) {
        errors.current_password = ['Is not correct.'];
      }
      if (next === '') {
        errors.new_password = ['Is required.'];
      } else {
        const reasons = (await rules.check(next, policyContext(mailbox.login))).map((f) => f.message);
        if (reasons.length === 0 && next === current && !errors.current_password) reasons.push('Must differ from the current password.');
        if (reasons.length > 0) errors.new_password = reasons;
      }
      if (input.confirm !== next) errors.confirm_password = ['Does not match the new password.'];
      if (Object.keys(errors).length > 0) throw new ValidationError(errors);
      const entry = audit.entry({ kind: 'mailbox', id: mailbox.id, login: mailbox.login }, 'password.change', mailbox.login, ip);
      await writePassword(deps, mailbox, next, undefined, entry);
      audit.logged(entry);
    },

    async setDisabled(actor, domainInput, addressInput, disabled, ip = null) {
      const mailbox = await getMailbox(actor, domainInput, addressInput);
      await writeDisabled(deps, mailbox, disabled);
      await audit.record(actor, disabled ? 'mailbox.disable' : 'mailbox.enable', mailbox.login, ip);
      return { ...mailbox, disabled };
    },

    async deleteMailbox(actor, domainInput, addressInput, ip = null) {
      const mailbox = await getMailbox(actor, domainInput, addressInput);
      await removeAccount(deps, mailbox);
      await audit.record(actor, 'mailbox.delete', mailbox.login, ip);
    },
  };
}
