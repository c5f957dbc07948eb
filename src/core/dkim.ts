import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { canSeeDomain, type Actor } from './actors.js';
import type { Audit } from './audit.js';
import { ConflictError, NotFoundError, ValidationError } from './errors.js';
import type { Clock, DkimKey, DkimSigner, Domain, Stores } from './ports.js';

const generate = promisify(generateKeyPair);
/** A DNS label of letters, digits and dashes; the algorithm's suffix is added to it. */
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$/;

/** The public part of a key as its DKIM record shows it, without the private key. */
export interface DkimRecord {
  selector: string;
  algorithm: 'ed25519' | 'rsa';
  /** `<selector>._domainkey.<domain>` */
  name: string;
  /** The TXT value: `v=DKIM1; k=...; p=...`. */
  value: string;
  createdAt: number;
}

export const dkimRecordOf = (domain: string, k: DkimKey): DkimRecord => ({
  selector: k.selector,
  algorithm: k.algorithm,
  name: `${k.selector}._domainkey.${domain}`,
  value: `v=DKIM1; k=${k.algorithm}; p=${k.publicKey}`,
  createdAt: k.createdAt,
});

/**
 * SPEC §14: DKIM keys of a domain, made in pairs (Ed25519 and RSA-2048, a selector each: receivers
 * that know Ed25519, RFC 8463, check both; the others the RSA one). A new pair is a rotation: the
 * old keys stay, and sign too, until they are removed.
 */
export function createDkimService({ stores, clock, audit, signer }: { stores: Pick<Stores, 'dkimKeys' | 'domains'>; clock: Clock; audit: Audit; signer: DkimSigner }) {
  const checked = (actor: Actor, domain: Domain) => {
    if (!canSeeDomain(actor, domain.id)) throw new NotFoundError('domain-not-found', 'Domain not found');
  };
  return {
    async list(actor: Actor, domain: Domain): Promise<DkimRecord[]> {
      checked(actor, domain);
      return (await stores.dkimKeys.listDkimKeys(domain.id)).map((k) => dkimRecordOf(domain.name, k));
    },

    /** Makes an Ed25519 and an RSA-2048 key, selectors `<base>-ed` and `<base>-rsa` (base: `mp` and today's date). */
    async add(actor: Actor, domain: Domain, selectorInput?: unknown, ip: string | null = null): Promise<DkimRecord[]> {
      checked(actor, domain);
      const base =
        selectorInput === undefined || selectorInput === ''
          ? `mp${new Date(clock.now() * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`
          : typeof selectorInput === 'string'
            ? selectorInput.trim().toLowerCase()
            : '';
      if (!SELECTOR.test(base)) throw new ValidationError({ selector: ['Must be letters, digits and dashes (a DNS label), at most 42.'] });
      const taken = new Set((await stores.dkimKeys.listDkimKeys(domain.id)).map((k) => k.selector));
      if (taken.has(`${base}-ed`) || taken.has(`${base}-rsa`)) throw new ConflictError('conflict', `Selector ${base} is in use for ${domain.name}; choose another (--selector)`);
      const ed = await generate('ed25519');
      const rsa = await generate('rsa', { modulusLength: 2048 });
      const now = clock.now();
      const pem = (k: import('node:crypto').KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
      const keys: DkimKey[] = [
        // RFC 8463: the Ed25519 record holds the raw 32-byte key, the last bytes of its SPKI DER.
        { domainId: domain.id, selector: `${base}-ed`, algorithm: 'ed25519', privateKey: pem(ed.privateKey), publicKey: ed.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('base64'), createdAt: now },
        { domainId: domain.id, selector: `${base}-rsa`, algorithm: 'rsa', privateKey: pem(rsa.privateKey), publicKey: rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'), createdAt: now },
      ];
      const entry = audit.entry(actor, 'dkim.add', domain.name, ip, `${base}-ed ${base}-rsa`);
      await stores.dkimKeys.insertDkimKeys(keys, entry).catch((err: unknown) => {
        throw err instanceof ConflictError ? new ConflictError('conflict', `Selector ${base} is in use for ${domain.name}`, { cause: err }) : err;
      });
      audit.logged(entry);
      return keys.map((k) => dkimRecordOf(domain.name, k));
    },

    async remove(actor: Actor, domain: Domain, selectorInput: unknown, ip: string | null = null): Promise<void> {
      checked(actor, domain);
      const selector = typeof selectorInput === 'string' ? selectorInput.trim().toLowerCase() : '';
      const entry = audit.entry(actor, 'dkim.remove', domain.name, ip, selector);
      if (!selector || !(await stores.dkimKeys.deleteDkimKey(domain.id, selector, entry))) throw new NotFoundError('dkim-not-found', 'DKIM key not found');
      audit.logged(entry);
    },

    /**
     * The signer of relayed mail whose envelope sender is in `domainName`: it makes the
     * DKIM-Signature headers with every key of that domain. Null when the domain has none (or is
     * not a domain of this installation): then the relay streams the message unsigned.
     */
    async signerFor(domainName: string): Promise<((message: Buffer) => Promise<string>) | null> {
      const domain = await stores.domains.findDomainByName(domainName.toLowerCase());
      const keys = domain ? await stores.dkimKeys.listDkimKeys(domain.id) : [];
      return domain && keys.length > 0 ? (message) => signer.sign(message, domain.name, keys) : null;
    },
  };
}

export type DkimService = ReturnType<typeof createDkimService>;
