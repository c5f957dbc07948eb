import type { AuditEntry, DomainStore, DomainSummary } from '../../core/ports.js';
import { toDomain } from '../rows.js';
import { auditWriter } from './audit.js';
import type { Db } from './db.js';

type DomainListRow = Parameters<typeof toDomain>[0] & { mailbox_count: number; credential_count: number; dns_problems: number | null };

export function createSqliteDomains(db: Db): DomainStore {
  const writeAudit = auditWriter(db);
  const q = {
    insert: db.prepare('INSERT INTO domains (name, verified, created_at) VALUES (?, ?, ?) RETURNING *'),
    byName: db.prepare('SELECT * FROM domains WHERE name = ?'),
    // mailbox_count and credential_count are kept by triggers on accounts (migration 019).
    list: db.prepare(`SELECT d.*, (SELECT problems FROM dns_checks WHERE domain_id = d.id) AS dns_problems
      FROM domains d ORDER BY d.name`),
  };
  const insertTx = db.transaction((name: string, verified: boolean, now: number, entry: AuditEntry) => {
    const row = q.insert.get(name, verified ? 1 : 0, now) as Parameters<typeof toDomain>[0];
    writeAudit(entry);
    return row;
  });
  return {
    async insertDomain(name, verified, now, entry) {
      return toDomain(insertTx.immediate(name, verified, now, entry));
    },
    async findDomainByName(name) {
      const row = q.byName.get(name) as Parameters<typeof toDomain>[0] | undefined;
      return row ? toDomain(row) : null;
    },
    async listDomains(ids) {
      const allowed = ids ? new Set(ids) : null;
      return (q.list.all() as DomainListRow[])
        .filter((r) => !allowed || allowed.has(r.id))
        .map((r): DomainSummary => ({ ...toDomain(r), mailboxCount: r.mailbox_count, credentialCount: r.credential_count, dnsProblems: r.dns_problems }));
    },
  };
}
