import type pg from 'pg';
import type { Db } from './sqlite/db.js';

/** Parents before children: every foreign key finds its row. */
const ORDER = ['domains', 'admins', 'accounts', 'admin_domains', 'api_tokens', 'app_passwords', 'login_history', 'webhooks', 'webhook_events'];
/** Tables whose `id` is an identity column: its sequence continues after the copied ids. */
const IDENTITY = ['domains', 'admins', 'accounts', 'api_tokens', 'audit_log', 'app_passwords', 'notices', 'webhook_events'];
/** What must be the same byte for byte after the copy, by id. */
const HASHES = [
  { table: 'accounts', key: ['id'], column: 'password_hash' },
  { table: 'admins', key: ['id'], column: 'password_hash' },
  { table: 'app_passwords', key: ['id'], column: 'password_hash' },
  { table: 'api_tokens', key: ['id'], column: 'token_hash' },
  { table: 'recovery_codes', key: ['owner', 'code_hash'], column: 'code_hash' },
];
/** Rows compared at a time: the hashes of a million mailboxes are never all in memory (issue 36). */
const COMPARE_PAGE = 10_000;
/** Parameters in one INSERT at most (PostgreSQL's limit is 65535). */
const MAX_PARAMS = 30_000;

export class StoreNotEmpty extends Error {
  override name = 'StoreNotEmpty';
}

export interface CopyReport {
  /** Rows copied per table, in the order they were copied. */
  tables: Array<{ table: string; rows: number }>;
  /** Password, token and recovery-code hashes compared after the copy. */
  hashesCompared: number;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Compares `h.column` of every row on both sides, by key, a page at a time (keyset: the rows after
 * the last key of the page before). Text keys in byte order, as SQLite sorts them: COLLATE "C" on
 * PostgreSQL's side. Returns how many were compared; a difference throws.
 */
async function compareHashes(source: Db, c: pg.PoolClient, h: (typeof HASHES)[number], page: number): Promise<number> {
  const keys = h.key.join(', ');
  const pgKeys = h.key.map((k) => (k === 'id' ? k : `${k} COLLATE "C"`)).join(', ');
  const sqliteFirst = source.prepare(`SELECT ${keys}, ${h.column} FROM ${h.table} ORDER BY ${keys} LIMIT ${page}`).raw(true);
  const sqliteNext = source.prepare(`SELECT ${keys}, ${h.column} FROM ${h.table} WHERE (${keys}) > (${h.key.map(() => '?').join(', ')}) ORDER BY ${keys} LIMIT ${page}`).raw(true);
  const pgFirst = `SELECT ${keys}, ${h.column} FROM ${h.table} ORDER BY ${pgKeys} LIMIT ${page}`;
  const pgNext = `SELECT ${keys}, ${h.column} FROM ${h.table} WHERE (${pgKeys}) > (${h.key.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY ${pgKeys} LIMIT ${page}`;
  let last: unknown[] | null = null;
  let compared = 0;
  for (;;) {
    const want = (last ? sqliteNext.all(...last) : sqliteFirst.all()) as unknown[][];
    const got = (await c.query({ text: last ? pgNext : pgFirst, values: last ?? [], rowMode: 'array' })).rows as unknown[][];
    const same = got.length === want.length && got.every((row, i) => row.every((v, j) => String(v) === String(want[i]![j])));
    if (!same) throw new Error(`${h.table}: the copied ${h.column} values differ from the source`);
    compared += want.length;
    if (want.length < page) return compared;
    last = want[want.length - 1]!.slice(0, h.key.length);
  }
}

/**
 * SPEC §12: copies every table of a SQLite database into an empty PostgreSQL database of the same
 * schema version, in one transaction, then compares every table's row count and every hash. Any
 * difference rolls the whole copy back: the target is either a full copy or as empty as before.
 * `comparePage` is for tests.
 */
export async function copySqliteToPostgres(source: Db, pool: pg.Pool, { comparePage = COMPARE_PAGE } = {}): Promise<CopyReport> {
  const tables = (source.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('schema_migrations', 'sqlite_sequence') ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  const ordered = [...ORDER.filter((t) => tables.includes(t)), ...tables.filter((t) => !ORDER.includes(t))];
  const c = await pool.connect();
  let broken: Error | undefined;
  // One read transaction on the source: the copy is one point in time, even while a server writes.
  source.exec('BEGIN');
  try {
    await c.query('BEGIN');
    const targetTables = new Set((await c.query<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")).rows.map((r) => r.name));
    const missing = ordered.filter((t) => !targetTables.has(t));
    if (missing.length > 0) throw new Error(`the target has no table ${missing.join(', ')}: is it mailpass's schema of this version?`);
    for (const t of ordered) {
      const { rows } = await c.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${quote(t)}) AS any`);
      if (rows[0]!.any) throw new StoreNotEmpty(`the target database is not empty (${t} has rows); migrate-store copies into an empty database only`);
    }
    const report: CopyReport = { tables: [], hashesCompared: 0 };
    for (const t of ordered) {
      const columns = (source.prepare(`SELECT name FROM pragma_table_info(?) ORDER BY cid`).all(t) as Array<{ name: string }>).map((r) => r.name);
      const select = source.prepare(`SELECT ${columns.map(quote).join(', ')} FROM ${quote(t)}`).raw(true);
      const perInsert = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
      let batch: unknown[][] = [];
      let copied = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const values = batch.map((row, i) => `(${row.map((_, j) => `$${i * columns.length + j + 1}`).join(', ')})`).join(', ');
        await c.query(`INSERT INTO ${quote(t)} (${columns.map(quote).join(', ')}) VALUES ${values}`, batch.flat());
        copied += batch.length;
        batch = [];
      };
      for (const row of select.iterate() as Iterable<unknown[]>) {
        // PostgreSQL's text holds no NUL; SQLite's audit log may (a malformed name, recorded as
        // sent). It is written \0, as the PostgreSQL store writes it.
        batch.push(row.map((v) => (typeof v === 'string' && v.includes('\0') ? v.replace(/\0/g, '\\0') : v)));
        if (batch.length >= perInsert) await flush();
      }
      await flush();
      report.tables.push({ table: t, rows: copied });
    }
    for (const t of IDENTITY.filter((x) => ordered.includes(x))) {
      await c.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), COALESCE((SELECT max(id) FROM ${quote(t)}), 0) + 1, false)`, [t]);
    }
    // The counts kept by triggers (issue 36) were copied with the domains and counted again as the
    // accounts came in: they are set to what was copied.
    if (ordered.includes('domains') && ordered.includes('accounts')) {
      await c.query(`UPDATE domains SET
        mailbox_count = (SELECT count(*) FROM accounts WHERE domain_id = domains.id AND kind = 'mailbox'),
        credential_count = (SELECT count(*) FROM accounts WHERE domain_id = domains.id AND kind = 'credential')`);
    }
    // The proof: the same number of rows in every table, and every hash the same by its key.
    for (const t of ordered) {
      const want = (source.prepare(`SELECT count(*) AS n FROM ${quote(t)}`).get() as { n: number }).n;
      const got = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${quote(t)}`)).rows[0]!.n);
      if (got !== want) throw new Error(`${t}: ${got} rows copied of ${want}`);
    }
    for (const h of HASHES.filter((x) => ordered.includes(x.table))) report.hashesCompared += await compareHashes(source, c, h, comparePage);
    await c.query('COMMIT');
    // Fresh statistics and visibility map for the planner: counts of 100,000 mailboxes become
    // index-only scans at once, not after autovacuum gets round to it.
    await c.query('VACUUM (ANALYZE)');
    return report;
  } catch (err) {
    await c.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    source.exec('COMMIT');
    c.release(broken);
  }
}
