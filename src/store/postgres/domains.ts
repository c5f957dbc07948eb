import type pg from 'pg';
import type { DomainStore, DomainSummary } from '../../core/ports.js';
import { toDomain } from '../rows.js';
import { appendAudit } from './audit.js';
import { queries } from './query.js';

type DomainRow = Parameters<typeof toDomain>[0];

export function createPostgresDomains(pool: pg.Pool): DomainStore {
  const { rows, one, tx } = queries(pool);
  return {
    async insertDomain(name, verified, now, entry) {
      return tx(async (c) => {
        const row = (await one<DomainRow>('INSERT INTO domains (name, verified, created_at) VALUES ($1, $2, $3) RETURNING *', [name, verified ? 1 : 0, now], c))!;
        await appendAudit(c, entry);
        return toDomain(row);
      });
    },
    async findDomainByName(name) {
      const row = await one<DomainRow>('SELECT * FROM domains WHERE name = $1', [name]);
      return row ? toDomain(row) : null;
    },
    async listDomains(ids) {
      const list = await rows<DomainRow & { mailbox_count: number; credential_count: number; dns_problems: number | null }>(
        `SELECT d.*, (SELECT problems FROM dns_checks WHERE domain_id = d.id) AS dns_problems
        FROM domains d WHERE $1::bigint[] IS NULL OR d.id = ANY ($1::bigint[]) ORDER BY d.name`,
        [ids ? [...ids] : null],
      );
      return list.map((r): DomainSummary => ({ ...toDomain(r), mailboxCount: r.mailbox_count, credentialCount: r.credential_count, dnsProblems: r.dns_problems }));
    },
  };
}
