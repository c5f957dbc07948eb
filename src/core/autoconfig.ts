import { cliActor } from './actors.js';
import { tryParseAddress } from './addresses.js';
import type { DomainService } from './domains.js';
import { NotFoundError } from './errors.js';

/** Where mail clients send and read mail (PUBLIC_SMTP_HOST and the public ports; 0: not told). */
export interface ClientServers {
  smtp: { host: string; submissionPort: number; submissionsPort: number };
  /** Named only when IMAP_HOST is set (mailpass serves no IMAP itself; Dovecot does). */
  imap: { host: string; port: number } | null;
}

/** What every autoconfiguration answer names: the servers, for one domain. */
export interface ClientSettings extends ClientServers {
  domain: string;
}

export interface AutoconfigService {
  /** The same servers on every page that names them: credential, account, DNS and autoconfiguration. */
  servers: ClientServers;
  /**
   * SPEC §14: the settings for an address or a domain, for verified domains only. They depend on
   * the domain alone, never on whether the address exists, and hold no secret.
   */
  settingsFor(addressOrDomain: unknown): Promise<ClientSettings>;
}

export function createAutoconfigService({
  domains,
  servers,
}: {
  domains: DomainService;
  servers: ClientServers;
}): AutoconfigService {
  return {
    servers,
    async settingsFor(input) {
      const text = typeof input === 'string' ? input.trim().toLowerCase() : '';
      const name = text.includes('@') ? tryParseAddress(text)?.domain : text;
      if (!name) throw new NotFoundError('domain-not-found', 'Domain not found');
      // Unknown and unverified domains answer alike: 404, as for anyone outside an admin's domains.
      const domain = await domains.requireVerifiedDomain(cliActor, name).catch(() => {
        throw new NotFoundError('domain-not-found', 'Domain not found');
      });
      return { domain: domain.name, ...servers };
    },
  };
}
