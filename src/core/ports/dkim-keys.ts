import type { AuditEntry } from './audit.js';

/** A DKIM key of a domain (SPEC §14); `publicKey` is the `p=` of its DNS record. */
export interface DkimKey {
  domainId: number;
  selector: string;
  algorithm: 'ed25519' | 'rsa';
  /** PKCS#8 PEM; never shown, never logged. */
  privateKey: string;
  publicKey: string;
  createdAt: number;
}

/** SPEC §14: the DKIM keys of domains. */
export interface DkimKeyStore {
  /** Adds keys to a domain, with `audit`, in one transaction (ConflictError: a selector is taken). */
  insertDkimKeys(keys: readonly DkimKey[], audit: AuditEntry): Promise<void>;
  /** A domain's keys, oldest first. */
  listDkimKeys(domainId: number): Promise<DkimKey[]>;
  /** Removes one key of a domain, with `audit`; false when there was none. */
  deleteDkimKey(domainId: number, selector: string, audit: AuditEntry): Promise<boolean>;
}
