import type { AuditEntry } from './audit.js';

export interface Domain {
  id: number;
  name: string;
  verified: boolean;
  createdAt: number;
}

export interface DomainSummary extends Domain {
  mailboxCount: number;
  credentialCount: number;
  /** Records the last DNS check found not right (SPEC §14); null: never checked. */
  dnsProblems: number | null;
}

/** The domains an installation serves (SPEC §3). */
export interface DomainStore {
  /** Adds a domain with `audit`, in one transaction (ConflictError: the name is taken). */
  insertDomain(name: string, verified: boolean, now: number, audit: AuditEntry): Promise<Domain>;
  findDomainByName(name: string): Promise<Domain | null>;
  /** Domains with counts; `ids` limits them to a domain admin's. */
  listDomains(ids?: readonly number[]): Promise<DomainSummary[]>;
}
