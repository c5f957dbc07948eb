import { cliActor } from './actors.js';
import { tryParseAddress } from './addresses.js';
import type { DomainService } from './domains.js';
import { NotFoundError } from './errors.js';

/** Where a mail client sends and reads mail: what every autoconfiguration answer names. */
export interface ClientSettings {
  domain: string;
  smtp: { host: string; submissionPort: number; submissionsPort: number };
  /** Named only when IMAP_HOST is set (mailpass serves no IMAP itself; Dovecot does). */
  imap: { host: string; port: number } | null;
}

export interface AutoconfigService {
  /**
   * SPEC §14: the settings for an address or a domain, for verified domains only. They depend on
   * the domain alone, never on whether the address exists, and hold no secret.
   */
  settingsFor(addressOrDomain: unknown): Promise<ClientSettings>;
}

export function createAutoconfigService({
  domains,
  smtpHost,
  submissionPort,
  submissionsPort,
  imap,
}: {
  domains: DomainService;
  smtpHost: string;
  submissionPort: number;
  submissionsPort: number;
  imap: { host: string; port: number } | null;
}): AutoconfigService {
  return {
    async settingsFor(input) {
      const text = typeof input === 'string' ? input.trim().toLowerCase() : '';
      const name = text.includes('@') ? tryParseAddress(text)?.domain : text;
      if (!name) throw new NotFoundError('domain-not-found', 'Domain not found');
      // Unknown and unverified domains answer alike: 404, as for anyone outside an admin's domains.
      const domain = await domains.requireVerifiedDomain(cliActor, name).catch(() => {
        throw new NotFoundError('domain-not-found', 'Domain not found');
      });
      return { domain: domain.name, smtp: { host: smtpHost, submissionPort, submissionsPort }, imap };
    },
  };
}
