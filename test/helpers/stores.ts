import { after, before } from 'node:test';
import type { AuditEntry, Stores } from '../../src/core/ports.js';
import { openStore, type OpenedStore } from '../../src/store/open.js';
import { tempDataDir, testConfig } from './env.js';

// The ports over a fresh database of the store under test (SQLite, or PostgreSQL in the suite's
// second half): the contract tests of test/store/ run each case on both.

export const HASH = '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA';

export const entry = (action: string, target = 'x', at = 1_700_000_000): AuditEntry => ({ at, actor: 'test', action, target, ip: null });

export interface StoreFixture {
  stores: Stores;
  opened: OpenedStore;
  dataDir: string;
  /** A verified domain made for the file. */
  domainId: number;
  /** A mailbox (or credential) of that domain. */
  account(login: string, kind?: 'mailbox' | 'credential', guid?: string | null): ReturnType<Stores['accounts']['insertAccount']>;
  /** Audit entries of `action` (and `target`) kept so far. */
  audited(action: string, target?: string): Promise<number>;
}

/** Opens the store once for the file (before), closes and removes it after. */
export function useStores(domain = 'contract.test'): StoreFixture {
  const { dir, cleanup } = tempDataDir();
  const fixture = { dataDir: dir } as StoreFixture;
  before(async () => {
    const opened = await openStore(testConfig(dir));
    const { stores } = opened;
    Object.assign(fixture, {
      stores,
      opened,
      domainId: (await stores.domains.insertDomain(domain, true, 1, entry('domain.create', domain))).id,
      account: (login: string, kind: 'mailbox' | 'credential' = 'mailbox', guid: string | null = null) =>
        stores.accounts.insertAccount({ kind, domainId: fixture.domainId, login, localPart: login.split('@')[0]!, name: '', guid, passwordHash: HASH, now: 1 }, entry(`${kind}.create`, login)),
      audited: async (action: string, target?: string) =>
        (await stores.audit.listAudit({ limit: 10_000, offset: 0 })).items.filter((e) => e.action === action && (target === undefined || e.target === target)).length,
    });
  });
  after(async () => {
    await fixture.opened?.counters.close();
    await fixture.opened?.end();
    cleanup();
  });
  return fixture;
}
