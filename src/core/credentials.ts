import { randomInt, randomUUID } from 'node:crypto';
import { removeAccount, writePassword, type AccountWriteDeps } from './account-writes.js';
import { canSeeDomain, type Actor } from './actors.js';
import { parseDisplayName } from './addresses.js';
import type { Audit } from './audit.js';
import { ConflictError, ForbiddenError, NotFoundError } from './errors.js';
import type { PasswordRules } from './password-rules.js';
import type { Account, Domain } from './ports.js';

const SUFFIX_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** `WordPress Blog` → `wordpress-blog`: the readable part of a credential's username. */
export function slugOf(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32)
    .replace(/-+$/, '');
  return slug || 'app';
}

const suffix = () => Array.from({ length: 4 }, () => SUFFIX_CHARS[randomInt(SUFFIX_CHARS.length)]).join('');

export interface CredentialService {
  /** `domain` is resolved once per request (DomainService.requireDomain) and passed on resolved. */
  createCredential(actor: Actor, domain: Domain, name: unknown, ip?: string | null): Promise<{ credential: Account; password: string }>;
  listCredentials(actor: Actor, domain: Domain): Promise<Account[]>;
  /**
   * The credential `guid` of `domain`. Another domain's credential answers 403 when the actor
   * manages that domain too, 404 otherwise, so nothing outside the actor's domains is revealed.
   */
  getCredential(actor: Actor, domain: Domain, guid: unknown): Promise<Account>;
  /** A new generated password; a reset racing another one on the same credential loses with a conflict. */
  resetCredential(actor: Actor, domain: Domain, guid: unknown, ip?: string | null): Promise<{ credential: Account; password: string }>;
  deleteCredential(actor: Actor, domain: Domain, guid: unknown, ip?: string | null): Promise<Account>;
}

export interface CredentialDeps extends AccountWriteDeps {
  audit: Audit;
  rules: PasswordRules;
}

export function createCredentialService(deps: CredentialDeps): CredentialService {
  const { stores, hasher, clock, audit, rules } = deps;
  const passwordFor = (login: string, domain: string) => rules.generate({ localPart: login.slice(0, login.indexOf('@')), domain });

  const visible = (actor: Actor, domain: Domain) => {
    if (!canSeeDomain(actor, domain.id)) throw new NotFoundError('domain-not-found', 'Domain not found');
    return domain;
  };
  const find = async (actor: Actor, domain: Domain, guidInput: unknown) => {
    visible(actor, domain);
    const guid = typeof guidInput === 'string' ? guidInput.trim().toLowerCase() : '';
    const credential = GUID.test(guid) ? await stores.accounts.findCredentialByGuid(guid) : null;
    if (!credential || !canSeeDomain(actor, credential.domainId)) throw new NotFoundError('credential-not-found', 'Credential not found');
    if (credential.domainId !== domain.id) {
      throw new ForbiddenError('credential-wrong-domain', 'Credential does not belong to the specified domain');
    }
    return credential;
  };

  return {
    async createCredential(actor, domain, nameInput, ip = null) {
      visible(actor, domain);
      const name = parseDisplayName(nameInput, 'name', { required: true });
      const slug = slugOf(name);
      // 36^4 suffixes per name: a clash is rare, and retried with another suffix.
      for (let attempt = 0; attempt < 20; attempt++) {
        const login = `${slug}-${suffix()}@${domain.name}`;
        if (await stores.accounts.findAccountByLogin(login)) continue;
        const password = passwordFor(login, domain.name);
        const entry = audit.entry(actor, 'credential.create', login, ip, name);
        try {
          const credential = await stores.accounts.insertAccount(
            {
            kind: 'credential',
            domainId: domain.id,
            login,
            localPart: login.slice(0, login.indexOf('@')),
            name,
            guid: randomUUID(),
            passwordHash: await hasher.hash(password),
            now: clock.now(),
            },
            entry,
          );
          audit.logged(entry);
          return { credential, password };
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
      throw new ConflictError('login-taken', 'Could not find a free username for this name; choose another name');
    },

    async listCredentials(actor, domain) {
      visible(actor, domain);
      const { items } = await stores.accounts.listAccounts(domain.id, 'credential', { limit: 10_000, offset: 0 });
      return items;
    },

    getCredential: find,

    async resetCredential(actor, domain, guid, ip = null) {
      const credential = await find(actor, domain, guid);
      const password = passwordFor(credential.login, credential.domainName);
      const entry = audit.entry(actor, 'credential.reset', credential.login, ip);
      const version = await writePassword(deps, credential, password, credential.passwordVersion, entry);
      if (version === null) throw new ConflictError('conflict', 'The credential was changed at the same time; try again');
      audit.logged(entry);
      const updated = (await stores.accounts.findAccountById(credential.id)) ?? credential;
      return { credential: updated, password };
    },

    async deleteCredential(actor, domain, guid, ip = null) {
      const credential = await find(actor, domain, guid);
      const entry = audit.entry(actor, 'credential.delete', credential.login, ip);
      await removeAccount(deps, credential, entry);
      audit.logged(entry);
      return credential;
    },
  };
}
