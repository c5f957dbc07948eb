import type { DnsCheckStore, StoredDnsCheck } from '../../core/ports.js';
import type { Db } from './db.js';

export function createSqliteDnsChecks(db: Db): DnsCheckStore {
  const q = {
    save: db.prepare(`INSERT INTO dns_checks (domain_id, checked_at, problems, results) VALUES (@domainId, @checkedAt, @problems, @results)
      ON CONFLICT (domain_id) DO UPDATE SET checked_at = excluded.checked_at, problems = excluded.problems, results = excluded.results`),
    get: db.prepare('SELECT checked_at AS checkedAt, problems, results FROM dns_checks WHERE domain_id = ?'),
  };
  return {
    async saveDnsCheck(domainId, check) {
      q.save.run({ domainId, ...check });
    },
    async getDnsCheck(domainId) {
      return (q.get.get(domainId) as StoredDnsCheck | undefined) ?? null;
    },
  };
}
