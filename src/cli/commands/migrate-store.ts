import { existsSync } from 'node:fs';
import { createPool, migrate } from '../../store/postgres/db.js';
import { copySqliteToPostgres } from '../../store/migrate-store.js';
import { openDatabase } from '../../store/sqlite/db.js';
import { UsageError, type Command } from '../command.js';

export const migrateStore: Command = {
  path: ['migrate-store'],
  usage: 'mailpass migrate-store --to postgres://USER:PASSWORD@HOST:PORT/DB',
  summary: 'copy this SQLite database into an empty PostgreSQL database and verify the copy',
  help: [
    'Reads the SQLite database of --data-dir (DATA_DIR) at one point in time, makes the schema in the',
    'PostgreSQL database, and copies every table in one transaction. Then it compares the row count',
    'of every table and every password, token and recovery-code hash; any difference, or a target',
    'that is not empty, rolls everything back. Stop the server first: what it writes after the copy',
    'began stays in SQLite. Then start mailpass with DATABASE_URL set to the same URL.',
  ].join('\n'),
  options: { to: { type: 'string' } },
  required: ['to'],
  positionals: 0,
  async run(ctx, _positionals, values) {
    const to = values.to as string;
    if (!/^postgres(ql)?:\/\/\S+$/.test(to)) throw new UsageError('--to must be a postgres:// URL');
    if (ctx.config.database) throw new Error('DATABASE_URL is set: migrate-store copies the SQLite database of --data-dir; run it without DATABASE_URL');
    if (!existsSync(ctx.config.dbFile)) throw new Error(`no database at ${ctx.config.dbFile}; check --data-dir`);
    const source = openDatabase(ctx.config.dbFile);
    const pool = createPool(to, 2);
    try {
      await migrate(pool).catch((err: unknown) => {
        throw new Error(`--to: cannot open the database (${(err as { code?: string }).code ?? (err as Error).message})`, { cause: err });
      });
      const report = await copySqliteToPostgres(source, pool);
      for (const { table, rows } of report.tables) ctx.io.stdout(`${table.padEnd(16)} ${rows}\n`);
      ctx.io.stdout(`copied ${report.tables.reduce((n, t) => n + t.rows, 0)} rows of ${report.tables.length} tables; row counts and ${report.hashesCompared} hashes verified\n`);
    } finally {
      source.close();
      await pool.end();
    }
  },
};
