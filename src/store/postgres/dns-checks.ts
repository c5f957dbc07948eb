import type pg from 'pg';
import type { DnsCheckStore, StoredDnsCheck } from '../../core/ports.js';
import { queries } from './query.js';

export function createPostgresDnsChecks(pool: pg.Pool): DnsCheckStore {
  const { one, run } = queries(pool);
  return {
    async saveDnsCheck(domainId, check) {
      await run(
        `INSERT INTO dns_checks (domain_id, checked_at, problems, results) VALUES ($1, $2, $3, $4)
         ON CONFLICT (domain_id) DO UPDATE SET checked_at = excluded.checked_at, problems = excluded.problems, results = excluded.results`,
        [domainId, check.checkedAt, check.problems, check.results],
      );
    },
    async getDnsCheck(domainId) {
      return (await one<StoredDnsCheck>('SELECT checked_at AS "checkedAt", problems, results FROM dns_checks WHERE domain_id = $1', [domainId])) ?? null;
    },
  };
}
