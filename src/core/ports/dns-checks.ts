/** The last DNS check of a domain, as kept: when, how many problems, and each record's result (JSON). */
export interface StoredDnsCheck {
  checkedAt: number;
  problems: number;
  results: string;
}

/** SPEC §14: the last DNS check of each domain (a new one replaces it; a check changes nothing else). */
export interface DnsCheckStore {
  saveDnsCheck(domainId: number, check: StoredDnsCheck): Promise<void>;
  getDnsCheck(domainId: number): Promise<StoredDnsCheck | null>;
}
