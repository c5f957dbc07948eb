import { canSeeDomain, isSuper, type Actor } from './actors.js';
import { normalizeDomain } from './addresses.js';
import type { Audit } from './audit.js';
import { ConflictError, NotFoundError } from './errors.js';
import type { Clock, Domain, DomainSummary, Stores } from './ports.js';

export interface DomainService {
  addDomain(actor: Actor, name: unknown, options?: { verified?: boolean; ip?: string | null }): Promise<Domain>;
  listDomains(actor: Actor): Promise<DomainSummary[]>;
  /** The domain if the actor may see it; otherwise 'domain-not-found', as if it did not exist. */
  requireDomain(actor: Actor, name: unknown): Promise<Domain>;
  /** Like requireDomain, and the domain must be verified ('domain-not-verified' otherwise). */
  requireVerifiedDomain(actor: Actor, name: unknown): Promise<Domain>;
}

export function createDomainService({ stores, clock, audit }: { stores: Pick<Stores, 'domains'>; clock: Clock; audit: Audit }): DomainService {
  const requireDomain = async (actor: Actor, input: unknown) => {
    const name = typeof input === 'string' ? input.trim().toLowerCase() : '';
    const domain = name.length > 0 && name.length <= 253 ? await stores.domains.findDomainByName(name) : null;
    if (!domain || !canSeeDomain(actor, domain.id)) throw new NotFoundError('domain-not-found', 'Domain not found');
    return domain;
  };
  return {
    requireDomain,
    async requireVerifiedDomain(actor, input) {
      const domain = await requireDomain(actor, input);
      if (!domain.verified) throw new ConflictError('domain-not-verified', 'Domain is not verified');
      return domain;
    },
    async addDomain(actor, input, { verified = true, ip = null } = {}) {
      if (!isSuper(actor)) throw new NotFoundError('domain-not-found', 'Domain not found');
      const name = normalizeDomain(input);
      if (await stores.domains.findDomainByName(name)) throw new ConflictError('domain-exists', `Domain ${name} already exists`);
      const entry = audit.entry(actor, 'domain.create', name, ip, verified ? 'verified' : 'unverified');
      const domain = await stores.domains.insertDomain(name, verified, clock.now(), entry).catch((err: unknown) => {
        throw err instanceof ConflictError ? new ConflictError('domain-exists', `Domain ${name} already exists`, { cause: err }) : err;
      });
      audit.logged(entry);
      return domain;
    },
    async listDomains(actor) {
      if (actor.kind === 'mailbox') return [];
      return stores.domains.listDomains(isSuper(actor) || actor.kind !== 'admin' ? undefined : actor.domainIds);
    },
  };
}
